// The trigger_dag task kind: what the loader accepts and refuses, and the cycles of literal
// targets that DagFolder reports as import errors (dag/trigger_graph.hpp).
#include "dag/trigger_graph.hpp"

#include "dag/dag_folder.hpp"
#include "dag/loader.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

namespace orquestra::dag {
namespace {

namespace fs = std::filesystem;

Result<Dag> load(const std::string& trigger) {
    return parse_dag("dag_id: p\ntasks:\n  t:\n    trigger_dag: " + trigger + "\n", "p.yaml");
}

std::string load_error(const std::string& trigger) {
    auto d = load(trigger);
    EXPECT_FALSE(d) << trigger;
    return d ? std::string() : d.error().message;
}

TEST(TriggerDagLoaderTest, FullForm) {
    auto d = load("{dag_id: other, run_id: \"x__{{ run_id }}\", conf: {usuario_id: 3, "
             "n: \"{{ params.n | default(1) }}\"}, wait: true, timeout: 10m, "
             "allowed_states: [success, failed]}");
    ASSERT_TRUE(d) << d.error().message;
    const Task& t = d->tasks.at(0);
    EXPECT_EQ(t.kind_name(), "trigger_dag");
    const auto& g = std::get<TriggerDagSpec>(t.kind);
    ASSERT_TRUE(g.literal_dag_id);
    EXPECT_EQ(*g.literal_dag_id, "other");
    ASSERT_TRUE(g.run_id);
    EXPECT_EQ(g.run_id->source(), "x__{{ run_id }}");
    ASSERT_TRUE(g.conf);
    EXPECT_TRUE(g.wait);
    EXPECT_EQ(g.timeout, std::optional<Millis>(600'000));
    EXPECT_EQ(g.allowed_states, (std::vector<std::string>{"success", "failed"}));
    EXPECT_TRUE(g.failed_states.empty());
}

TEST(TriggerDagLoaderTest, ShorthandAndDefaults) {
    auto d = load("other");
    ASSERT_TRUE(d) << d.error().message;
    const auto& g = std::get<TriggerDagSpec>(d->tasks.at(0).kind);
    EXPECT_EQ(g.literal_dag_id, std::optional<std::string>("other"));
    EXPECT_FALSE(g.wait);
    EXPECT_FALSE(g.run_id);
    EXPECT_FALSE(g.conf);
    EXPECT_EQ(g.allowed_states, std::vector<std::string>{"success"});
}

TEST(TriggerDagLoaderTest, TemplatedDagIdHasNoLiteralTarget) {
    auto d = load("{dag_id: \"{{ params.target }}\"}");
    ASSERT_TRUE(d) << d.error().message;
    const auto& g = std::get<TriggerDagSpec>(d->tasks.at(0).kind);
    EXPECT_FALSE(g.literal_dag_id);
}

TEST(TriggerDagLoaderTest, BadInputIsRefusedWithFileAndLine) {
    EXPECT_NE(load_error("{run_id: x}").find("p.yaml:4: task 't' trigger_dag needs a dag_id"),
              std::string::npos);
    EXPECT_NE(load_error("{dag_id: \"bad id\"}").find("bad dag_id 'bad id'"), std::string::npos);
    EXPECT_NE(load_error("{dag_id: o, conf: [1, 2]}").find("conf must be a mapping"),
              std::string::npos);
    EXPECT_NE(load_error("{dag_id: o, wait: maybe}").find("wait must be true or false"),
              std::string::npos);
    EXPECT_NE(load_error("{dag_id: o, timeout: 1m}").find("timeout needs wait: true"),
              std::string::npos);
    EXPECT_NE(load_error("{dag_id: o, wait: true, allowed_states: [running]}")
                  .find("may hold success and failed"),
              std::string::npos);
    EXPECT_NE(load_error("{dag_id: o, wait: true, allowed_states: [success], "
                         "failed_states: [success]}")
                  .find("in both allowed_states and failed_states"),
              std::string::npos);
    EXPECT_NE(load_error("{dag_id: o, poke_interval: 5s}").find("unknown key 'poke_interval'"),
              std::string::npos);
    EXPECT_NE(load_error("{dag_id: o, conf: {a: \"{{ nope }}\"}}").find("unknown name 'nope'"),
              std::string::npos);
    auto both = parse_dag("dag_id: p\ntasks:\n  t:\n    trigger_dag: o\n    http: {url: "
                          "\"http://x\"}\n",
                          "p.yaml");
    ASSERT_FALSE(both);
    EXPECT_NE(both.error().message.find("a task does one thing"), std::string::npos);
}

class TriggerCycleTest : public testing::Test {
  protected:
    void SetUp() override {
        std::random_device rd;
        dir_ = fs::temp_directory_path() / ("orquestra_trigger_cycle_" + std::to_string(rd()));
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    void write(const std::string& name, const std::string& dag_id, const std::string& target) {
        std::ofstream(dir_ / name) << "dag_id: " << dag_id
                                   << "\ntasks:\n  first: {command: [\"true\"]}\n  go:\n"
                                      "    trigger_dag: "
                                   << target << "\n";
    }
    std::vector<std::string> loaded(const DagFolder& folder) {
        std::vector<std::string> out;
        for (const auto& d : folder.dags()) out.push_back(d->dag_id);
        return out;
    }

    fs::path dir_;
    FakeClock clock_{1'700'000'000'000};
};

TEST_F(TriggerCycleTest, TwoDagsTriggeringEachOtherAreBothImportErrors) {
    write("a.yaml", "a", "b");
    write("b.yaml", "b", "a");
    write("c.yaml", "c", "a");  // triggers into the cycle, is not on it
    DagFolder folder(dir_, clock_);
    folder.scan();
    EXPECT_EQ(loaded(folder), std::vector<std::string>{"c"});
    auto errors = folder.import_errors();
    ASSERT_EQ(errors.size(), 2u);
    EXPECT_EQ(errors[0].filename, (dir_ / "a.yaml").string());
    EXPECT_EQ(errors[0].line, 4);  // the trigger_dag task
    EXPECT_NE(errors[0].message.find("trigger_dag cycle: a -> b -> a (task 'go' triggers 'b')"),
              std::string::npos)
        << errors[0].message;
    EXPECT_NE(errors[1].message.find("trigger_dag cycle: b -> a -> b"), std::string::npos)
        << errors[1].message;

    // A rescan with nothing changed keeps the errors as they were, first seen then.
    clock_.advance(5'000);
    auto again = folder.scan();
    EXPECT_FALSE(again.import_errors_changed);
    EXPECT_EQ(folder.import_errors(), errors);

    // Breaking the cycle loads both.
    write("b.yaml", "b", "not_loaded_yet");
    fs::last_write_time(dir_ / "b.yaml",
                        fs::file_time_type::clock::now() + std::chrono::seconds(10));
    auto fixed = folder.scan();
    EXPECT_TRUE(fixed.import_errors_changed);
    EXPECT_TRUE(folder.import_errors().empty());
    EXPECT_EQ(loaded(folder), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(TriggerCycleTest, ADagTriggeringItselfIsAnImportError) {
    write("self.yaml", "self", "self");
    DagFolder folder(dir_, clock_);
    folder.scan();
    EXPECT_TRUE(loaded(folder).empty());
    auto errors = folder.import_errors();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].message.find("trigger_dag cycle: self -> self"), std::string::npos)
        << errors[0].message;
}

TEST_F(TriggerCycleTest, TemplatedTargetsAndUnknownTargetsAreNotFlagged) {
    write("t.yaml", "t", "\"{{ dag_run.dag_id }}\"");
    write("u.yaml", "u", "not_there");
    DagFolder folder(dir_, clock_);
    folder.scan();
    EXPECT_EQ(loaded(folder), (std::vector<std::string>{"t", "u"}));
    EXPECT_TRUE(folder.import_errors().empty());
}

TEST(TriggerGraphTest, ShortestCycleThroughEachDag) {
    auto make = [](const std::string& id, std::vector<std::string> targets) {
        std::string yaml = "dag_id: " + id + "\ntasks:\n";
        for (std::size_t i = 0; i < targets.size(); ++i) {
            yaml += "  t" + std::to_string(i) + ": {trigger_dag: " + targets[i] + "}\n";
        }
        auto d = parse_dag(yaml, id + ".yaml");
        EXPECT_TRUE(d) << d.error().message;
        return std::make_shared<const Dag>(std::move(*d));
    };
    std::map<std::string, std::shared_ptr<const Dag>, std::less<>> dags;
    dags["a"] = make("a", {"b"});
    dags["b"] = make("b", {"c", "a"});
    dags["c"] = make("c", {"a"});
    dags["d"] = make("d", {"a"});
    auto cycles = find_trigger_cycles(dags);
    ASSERT_EQ(cycles.size(), 3u);
    EXPECT_NE(cycles.at("a").message.find("a -> b -> a"), std::string::npos);
    EXPECT_NE(cycles.at("b").message.find("b -> a -> b"), std::string::npos);
    EXPECT_NE(cycles.at("c").message.find("c -> a -> b -> c"), std::string::npos);
    EXPECT_EQ(cycles.at("b").line, 4);  // t1, the task that triggers a
    EXPECT_FALSE(cycles.contains("d"));
}

}  // namespace
}  // namespace orquestra::dag
