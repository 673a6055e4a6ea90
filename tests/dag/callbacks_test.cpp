// The loader's side of callbacks: what on_failure, on_success and on_retry hold once loaded.
#include "dag/loader.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace orquestra::dag {
namespace {

namespace fs = std::filesystem;

const fs::path kDataDir = ORQUESTRA_DAG_TEST_DATA;

Dag load_good() {
    Result<Dag> dag = load_dag_file(kDataDir / "good" / "callbacks.yaml");
    EXPECT_TRUE(dag.has_value()) << dag.error().message;
    return dag ? std::move(*dag) : Dag{};
}

TEST(CallbacksLoaderTest, DagLevelCallbacksAreAnHttpCallAndACommand) {
    Dag dag = load_good();
    ASSERT_EQ(dag.callbacks.on_failure.size(), 1u);
    EXPECT_TRUE(dag.callbacks.on_retry.empty());
    const auto* http = std::get_if<HttpSpec>(&dag.callbacks.on_failure[0].target);
    ASSERT_NE(http, nullptr);
    EXPECT_EQ(http->url.value_or(""), "https://chat.example.com/hooks/T000/B000");
    EXPECT_EQ(http->method, "POST");  // a callback posts unless it says otherwise
    EXPECT_EQ(http->timeout, 30'000);
    ASSERT_TRUE(http->json.has_value());
    EXPECT_EQ(dag.callbacks.on_failure[0].line, 3);
    ASSERT_EQ(dag.callbacks.on_success.size(), 1u);
    const auto* cmd = std::get_if<CommandSpec>(&dag.callbacks.on_success[0].target);
    ASSERT_NE(cmd, nullptr);
    ASSERT_EQ(cmd->argv.size(), 1u);
    EXPECT_EQ(cmd->timeout, 30'000);  // 30 s, not a command task's 10 min
}

TEST(CallbacksLoaderTest, TaskCallbacksOverrideDefaultArgsPerEvent) {
    Dag dag = load_good();
    const Task* a = dag.find_task("a");
    const Task* b = dag.find_task("b");
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    // on_retry comes from default_args for both; on_failure is a's own.
    for (const Task* t : {a, b}) {
        ASSERT_EQ(t->callbacks.on_retry.size(), 1u) << t->task_id;
        const auto& retry = std::get<HttpSpec>(t->callbacks.on_retry[0].target);
        EXPECT_EQ(retry.service.value_or(""), "alerts");
        EXPECT_EQ(retry.method, "POST");
        EXPECT_EQ(retry.path.source(), "/retry/{{ callback.task_id }}");
    }
    EXPECT_TRUE(b->callbacks.on_failure.empty());
    EXPECT_TRUE(a->callbacks.on_success.empty());
    ASSERT_EQ(a->callbacks.on_failure.size(), 2u);
    const auto& put = std::get<HttpSpec>(a->callbacks.on_failure[0].target);
    EXPECT_EQ(put.method, "PUT");
    EXPECT_EQ(put.connection.value_or(""), "chat_api");
    EXPECT_EQ(put.timeout, 5'000);
    EXPECT_EQ(a->callbacks.on_failure[0].secret_reads.connections,
              std::vector<std::string>{"chat_api"});
    const auto& script = std::get<CommandSpec>(a->callbacks.on_failure[1].target);
    ASSERT_TRUE(script.script.has_value());
    EXPECT_EQ(a->callbacks.on_failure[1].secret_reads.variables,
              std::vector<std::string>{"token"});
    // The task's own reads are not widened by its callbacks'.
    EXPECT_TRUE(a->secret_reads.variables.empty());
}

TEST(CallbacksLoaderTest, CallbackNamesAreOnlyForCallbacks) {
    auto task_using_callback = parse_dag(R"(
dag_id: d
tasks:
  a: {http: {url: "http://127.0.0.1:9/", path: "/{{ callback.event }}"}}
)",
                                         "d.yaml");
    ASSERT_FALSE(task_using_callback);
    EXPECT_NE(task_using_callback.error().message.find("unknown name 'callback'"),
              std::string::npos)
        << task_using_callback.error().message;
}

TEST(CallbacksLoaderTest, ListsAreBoundedAndNotEmpty) {
    std::string many = "dag_id: d\non_failure:\n";
    for (std::size_t i = 0; i <= kMaxCallbacksPerEvent; ++i) many += "  - {argv: [/bin/true]}\n";
    many += "tasks:\n  a: {command: [\"true\"]}\n";
    auto too_many = parse_dag(many, "d.yaml");
    ASSERT_FALSE(too_many);
    EXPECT_NE(too_many.error().message.find("more than 8 callbacks"), std::string::npos)
        << too_many.error().message;
    auto empty = parse_dag("dag_id: d\non_success: []\ntasks:\n  a: {command: [\"true\"]}\n",
                           "d.yaml");
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.error().message.find("d.yaml:2: on_success is an empty list"),
              std::string::npos)
        << empty.error().message;
    auto scalar = parse_dag("dag_id: d\non_success: notify\ntasks:\n  a: {command: [\"true\"]}\n",
                            "d.yaml");
    ASSERT_FALSE(scalar);
    EXPECT_NE(scalar.error().message.find("on_success must be a mapping"), std::string::npos)
        << scalar.error().message;
}

}  // namespace
}  // namespace orquestra::dag
