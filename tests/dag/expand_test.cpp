// The loader's `expand` (dynamic task mapping) and `max_map_length`.
#include "dag/loader.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace orquestra::dag {
namespace {

namespace json = boost::json;

std::string error_of(std::string_view yaml) {
    auto d = parse_dag(yaml, "d.yaml");
    return d ? std::string() : d.error().message;
}

TEST(ExpandLoaderTest, TemplateAndLiteralListsWithTheirKeysInFileOrder) {
    auto d = parse_dag(R"(
dag_id: d
max_map_length: 50
tasks:
  lista: {command: ["true"]}
  each:
    upstream: [lista]
    expand:
      u: "{{ tasks.lista.output }}"
      x: [a, "{{ ds }}"]
    command: {argv: ["echo", "{{ map_index }}"], env: {U: "{{ expand.u }}"}}
  plain: {command: ["true"], when: "map_index == -1"}
)",
                       "d.yaml");
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->max_map_length, 50);
    const Task* each = d->find_task("each");
    ASSERT_TRUE(each->is_mapped());
    ASSERT_EQ(each->expand.size(), 2u);
    EXPECT_EQ(each->expand[0].key, "u");
    EXPECT_EQ(each->expand[1].key, "x");
    json::object ctx;
    ctx["ds"] = "2024-01-01";
    auto x = each->expand[1].value.render(ctx);
    ASSERT_TRUE(x) << x.error().message;
    EXPECT_EQ(*x, json::parse(R"(["a", "2024-01-01"])"));
    EXPECT_FALSE(d->find_task("plain")->is_mapped());
    EXPECT_EQ(parse_dag("dag_id: d\ntasks:\n  a: {command: [\"true\"]}\n", "d.yaml")->max_map_length,
              kDefaultMaxMapLength);
}

TEST(ExpandLoaderTest, AnExpandedOutputMustComeFromAnUpstreamTask) {
    const std::string error = error_of(R"(
dag_id: d
tasks:
  lista: {command: ["true"]}
  each:
    expand: {n: "{{ tasks.lista.output }}"}
    command: ["true"]
)");
    EXPECT_NE(error.find("reads the output of task 'lista', which is not upstream"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("d.yaml:6:"), std::string::npos) << error;
}

TEST(ExpandLoaderTest, BadExpandsAreRefusedWithTheirLine) {
    // Not a template nor a list.
    EXPECT_NE(error_of("dag_id: d\ntasks:\n  a:\n    expand: {n: plain}\n    command: [\"true\"]\n")
                  .find("must be one {{ expression }}"),
              std::string::npos);
    // A mapping.
    EXPECT_NE(error_of("dag_id: d\ntasks:\n  a:\n    expand: {n: {k: 1}}\n    command: [\"true\"]\n")
                  .find("got a mapping"),
              std::string::npos);
    // Empty.
    EXPECT_NE(error_of("dag_id: d\ntasks:\n  a:\n    expand: {}\n    command: [\"true\"]\n")
                  .find("expand is empty"),
              std::string::npos);
    // expand.<key> of a key it does not have, or in a task that is not mapped.
    EXPECT_NE(error_of("dag_id: d\ntasks:\n  a:\n    expand: {n: [1]}\n    command: {argv: "
                       "[\"true\"], env: {X: \"{{ expand.m }}\"}}\n")
                  .find("'expand.m' names no key of its expand (n)"),
              std::string::npos);
    EXPECT_NE(error_of("dag_id: d\ntasks:\n  a:\n    command: {argv: [\"true\"], env: {X: "
                       "\"{{ expand.n }}\"}}\n")
                  .find("needs the task to have expand"),
              std::string::npos);
    // An expand value that reads what expand makes.
    EXPECT_NE(error_of("dag_id: d\ntasks:\n  a:\n    expand: {n: \"{{ map_index }}\"}\n    "
                       "command: [\"true\"]\n")
                  .find("cannot read 'map_index'"),
              std::string::npos);
    // max_map_length within 1..the cap.
    EXPECT_NE(error_of("dag_id: d\nmax_map_length: 0\ntasks:\n  a: {command: [\"true\"]}\n")
                  .find("max_map_length"),
              std::string::npos);
    EXPECT_NE(error_of("dag_id: d\nmax_map_length: 10001\ntasks:\n  a: {command: [\"true\"]}\n")
                  .find("max_map_length"),
              std::string::npos);
}

TEST(ExpandLoaderTest, ATriggerDagTaskIsNotMapped) {
    // Its waiting try is one per task: a mapped one is refused, naming the line of expand.
    std::string error = error_of(
        "dag_id: d\ntasks:\n  a:\n    expand: {n: [1, 2]}\n    trigger_dag: other\n");
    EXPECT_NE(error.find("expand cannot map a trigger_dag task"), std::string::npos) << error;
    EXPECT_NE(error.find("d.yaml:4:"), std::string::npos) << error;
    EXPECT_EQ(error_of("dag_id: d\ntasks:\n  a:\n    trigger_dag: other\n"), "");
}

TEST(ExpandLoaderTest, AnElementNeverGoesIntoArgv) {
    // A run sets the elements (outputs, conf): argv refuses them as it refuses params.
    const std::string error = error_of(
        "dag_id: d\ntasks:\n  a:\n    expand: {n: [1]}\n    command: [\"echo\", \"{{ expand.n }}\"]\n");
    EXPECT_NE(error.find("which a run may set"), std::string::npos) << error;
}

}  // namespace
}  // namespace orquestra::dag
