// Dynamic task mapping in the engine (scheduler/mapping.cpp): expansion from params, conf and
// upstream outputs, empty and bad lists, the limit, retries per instance, outputs downstream,
// clearing and recovery. A real SQLite store, a fake clock, a runner the test drives.
#include "scheduler/engine.hpp"

#include "store/sqlite/sqlite_store.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <random>

namespace orquestra::scheduler {
namespace {

namespace fs = std::filesystem;
using store::RunState;
using store::TaskState;

class ManualRunner final : public executor::TaskRunner {
public:
    void run(executor::Attempt attempt, std::function<void(executor::AttemptResult)> done) override {
        if (attempt.on_started) attempt.on_started({0, ""});
        started.push_back({std::move(attempt), std::move(done)});
    }
    struct Started {
        executor::Attempt attempt;
        std::function<void(executor::AttemptResult)> done;
    };
    std::vector<Started> started;
    // The value of an environment variable of try `i` ("" when unset).
    std::string env(std::size_t i, const std::string& name) const {
        const auto* cmd = std::get_if<executor::RenderedCommand>(&started.at(i).attempt.work);
        if (cmd == nullptr) return "";
        for (const auto& [k, v] : cmd->env) {
            if (k == name) return v;
        }
        return "";
    }
};

class MappingTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() / ("orquestra-mapping-" + std::to_string(rd()));
        fs::create_directories(home_ / "dags");
        open_store();
    }
    void TearDown() override {
        engine_.reset();
        folder_.reset();
        store_.reset();
        fs::remove_all(home_);
    }
    void open_store() {
        auto s = store::SqliteStore::open(home_ / "orquestra.db");
        ASSERT_TRUE(s) << s.error().message;
        store_ = std::move(*s);
        ASSERT_TRUE(store_->migrate());
    }
    void write_dag(const std::string& yaml) { std::ofstream(home_ / "dags" / "d.yaml") << yaml; }
    void pump() {
        io_.restart();
        io_.poll();
    }
    void start_engine() {
        folder_ = std::make_unique<dag::DagFolder>(home_ / "dags", clock_);
        EngineOptions opts;
        opts.log_dir = home_ / "logs";
        opts.unpause_new_dags = true;
        opts.default_pool_slots = 10'000;  // default_pool's 128 would hold back 1,000 instances
        engine_ = std::make_unique<Engine>(io_, *store_, *folder_, runner_, clock_, opts);
        ASSERT_TRUE(engine_->start());
        pump();
    }
    void crash_engine() {
        engine_.reset();
        folder_.reset();
        pump();
        runner_.started.clear();
        store_.reset();
        open_store();
    }
    void trigger(const std::string& conf = "{}") {
        TriggerRequest req;
        req.dag_id = "d";
        req.run_id = "r1";
        req.conf = boost::json::parse(conf).as_object();
        auto r = engine_->trigger(req);
        ASSERT_TRUE(r) << r.error().message;
        pump();
    }
    void finish(std::size_t index, bool success, std::string output = "") {
        executor::AttemptResult r;
        r.success = success;
        if (!output.empty()) r.output_json = output;
        if (!success) r.error = "boom";
        runner_.started.at(index).done(std::move(r));
        pump();
    }
    std::optional<store::TaskInstance> ti(const std::string& task, int map_index = -1) {
        auto found = store_->get_task_instance("d", "r1", task, map_index);
        EXPECT_TRUE(found) << found.error().message;
        return found ? *found : std::nullopt;
    }
    TaskState state(const std::string& task, int map_index = -1) {
        auto found = ti(task, map_index);
        return found ? found->state : TaskState::kRemoved;
    }
    std::vector<store::TaskInstance> instances(const std::string& task) {
        std::vector<store::TaskInstance> out;
        for (auto& t : store_->task_instances("d", "r1").value()) {
            if (t.task_id == task && t.map_index >= 0) out.push_back(std::move(t));
        }
        return out;
    }
    RunState run_state() { return store_->get_run("d", "r1").value()->state; }
    std::string last_error(const std::string& task, int map_index = -1) {
        auto tries = store_->tries("d", "r1", task, map_index).value();
        return tries.empty() ? "" : tries.back().error;
    }

    fs::path home_;
    FakeClock clock_{1'700'000'000'000};
    boost::asio::io_context io_;
    std::unique_ptr<store::SqliteStore> store_;
    std::unique_ptr<dag::DagFolder> folder_;
    ManualRunner runner_;
    std::unique_ptr<Engine> engine_;
};

constexpr const char* kFromParams = R"(
dag_id: d
params:
  ids: {default: [10, 20, 30]}
tasks:
  each:
    expand: {n: "{{ params.ids }}"}
    command: {argv: ["true"], env: {N: "{{ expand.n }}", I: "{{ map_index }}"}}
  total:
    upstream: [each]
    command: {argv: ["true"], env: {ALL: "{{ tasks.each.output | tojson }}"}}
)";

TEST_F(MappingTest, ListFromParamsMakesOneInstancePerElementAndDownstreamSeesOutputsInOrder) {
    write_dag(kFromParams);
    start_engine();
    trigger();
    ASSERT_EQ(runner_.started.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(runner_.env(i, "N"), std::to_string(10 * (i + 1)));
        EXPECT_EQ(runner_.env(i, "I"), std::to_string(i));
        EXPECT_EQ(runner_.env(i, "ORQUESTRA_MAP_INDEX"), std::to_string(i));
    }
    // The placeholder (-1) is gone, replaced by instances 0..2.
    EXPECT_FALSE(ti("each").has_value());
    ASSERT_EQ(instances("each").size(), 3u);
    EXPECT_EQ(state("each", 1), TaskState::kRunning);
    // They end out of order; the list downstream is in map_index order.
    finish(2, true, "3");
    finish(0, true, "1");
    EXPECT_EQ(runner_.started.size(), 3u);  // total waits for every instance
    finish(1, true, "2");
    ASSERT_EQ(runner_.started.size(), 4u);
    EXPECT_EQ(runner_.started[3].attempt.task_id, "total");
    EXPECT_EQ(runner_.env(3, "ALL"), "[1,2,3]");
    EXPECT_EQ(runner_.env(3, "ORQUESTRA_MAP_INDEX"), "");
    finish(3, true);
    EXPECT_EQ(run_state(), RunState::kSuccess);
    engine_->flush_logs();
    EXPECT_TRUE(fs::exists(engine_->log_path("d", "r1", "each", 1, 2)));
    EXPECT_EQ(engine_->log_path("d", "r1", "each", 1, 2).parent_path().filename(), "map_index=2");
    EXPECT_EQ(store_->tries("d", "r1", "each", 2).value().size(), 1u);
}

TEST_F(MappingTest, ListFromAnUpstreamOutputAndFromConf) {
    write_dag(R"(
dag_id: d
params:
  extra: {default: []}
tasks:
  lista: {command: ["true"]}
  each:
    upstream: [lista]
    expand: {u: "{{ tasks.lista.output }}", x: "{{ dag_run.conf.extra }}"}
    command: {argv: ["true"], env: {U: "{{ expand.u }}", X: "{{ expand.x }}"}}
)");
    start_engine();
    trigger(R"({"extra": ["a", "b"]})");
    ASSERT_EQ(runner_.started.size(), 1u);
    finish(0, true, R"([1, 2])");
    // Two keys: their cartesian product, the last key varying fastest.
    ASSERT_EQ(runner_.started.size(), 5u);
    EXPECT_EQ(runner_.env(1, "U") + runner_.env(1, "X"), "1a");
    EXPECT_EQ(runner_.env(2, "U") + runner_.env(2, "X"), "1b");
    EXPECT_EQ(runner_.env(3, "U") + runner_.env(3, "X"), "2a");
    EXPECT_EQ(runner_.env(4, "U") + runner_.env(4, "X"), "2b");
}

TEST_F(MappingTest, EmptyListSkipsTheTaskAndItsDownstream) {
    write_dag(R"(
dag_id: d
params:
  ids: {default: []}
tasks:
  each:
    expand: {n: "{{ params.ids }}"}
    command: ["true"]
  after: {command: ["true"], upstream: [each]}
)");
    start_engine();
    trigger();
    EXPECT_TRUE(runner_.started.empty());
    EXPECT_EQ(state("each"), TaskState::kSkipped);
    EXPECT_NE(ti("each")->note.find("empty list"), std::string::npos);
    EXPECT_EQ(state("after"), TaskState::kSkipped);
    EXPECT_EQ(run_state(), RunState::kSuccess);
}

TEST_F(MappingTest, NonListFailsWithAMessageAndDownstreamIsUpstreamFailed) {
    write_dag(R"(
dag_id: d
tasks:
  lista: {command: ["true"]}
  each:
    upstream: [lista]
    retries: 3
    expand: {n: "{{ tasks.lista.output }}"}
    command: ["true"]
  after: {command: ["true"], upstream: [each]}
)");
    start_engine();
    trigger();
    finish(0, true, R"({"not": "a list"})");
    EXPECT_EQ(runner_.started.size(), 1u);
    EXPECT_EQ(state("each"), TaskState::kFailed);  // not retried: the same input fails again
    const std::string error = last_error("each");
    EXPECT_NE(error.find("expand.n must render to a list, got an object"), std::string::npos)
        << error;
    EXPECT_NE(error.find(R"({"not":"a list"})"), std::string::npos) << error;
    EXPECT_EQ(state("after"), TaskState::kUpstreamFailed);
    EXPECT_EQ(run_state(), RunState::kFailed);
}

TEST_F(MappingTest, OverMaxMapLengthFails) {
    write_dag(R"(
dag_id: d
max_map_length: 2
params:
  ids: {default: [1, 2, 3]}
tasks:
  each:
    expand: {n: "{{ params.ids }}"}
    command: ["true"]
)");
    start_engine();
    trigger();
    EXPECT_TRUE(runner_.started.empty());
    EXPECT_EQ(state("each"), TaskState::kFailed);
    EXPECT_NE(last_error("each").find("max_map_length (2)"), std::string::npos)
        << last_error("each");
    EXPECT_EQ(run_state(), RunState::kFailed);
}

TEST_F(MappingTest, OneInstanceFailingIsRetriedAloneAndFailsTheTask) {
    write_dag(R"(
dag_id: d
params:
  ids: {default: [1, 2]}
tasks:
  each:
    expand: {n: "{{ params.ids }}"}
    retries: 1
    retry_delay: 10s
    command: ["true"]
  after: {command: ["true"], upstream: [each]}
  cleanup: {command: ["true"], upstream: [each], trigger_rule: all_done}
)");
    start_engine();
    trigger();
    ASSERT_EQ(runner_.started.size(), 2u);
    finish(0, true, "1");
    finish(1, false);
    EXPECT_EQ(state("each", 1), TaskState::kUpForRetry);
    EXPECT_EQ(state("each", 0), TaskState::kSuccess);
    ASSERT_TRUE(engine_->wake_deadline());
    clock_.advance(10'000);
    engine_->fire_timers();
    pump();
    ASSERT_EQ(runner_.started.size(), 3u);
    EXPECT_EQ(runner_.started[2].attempt.try_number, 2);
    EXPECT_EQ(runner_.env(2, "ORQUESTRA_MAP_INDEX"), "1");
    finish(2, false);
    EXPECT_EQ(state("each", 1), TaskState::kFailed);
    EXPECT_EQ(store_->tries("d", "r1", "each", 1).value().size(), 2u);
    // Trigger rules count every instance: one failed.
    EXPECT_EQ(state("after"), TaskState::kUpstreamFailed);
    ASSERT_EQ(runner_.started.size(), 4u);
    EXPECT_EQ(runner_.started[3].attempt.task_id, "cleanup");
    finish(3, true);
    EXPECT_EQ(run_state(), RunState::kFailed);
}

TEST_F(MappingTest, MaxActiveTasksLimitsInstances) {
    write_dag(R"(
dag_id: d
max_active_tasks: 2
params:
  ids: {default: [1, 2, 3, 4, 5]}
tasks:
  each:
    expand: {n: "{{ params.ids }}"}
    command: ["true"]
)");
    start_engine();
    trigger();
    ASSERT_EQ(runner_.started.size(), 2u);
    finish(0, true);
    ASSERT_EQ(runner_.started.size(), 3u);
    finish(1, true);
    finish(2, true);
    finish(3, true);
    ASSERT_EQ(runner_.started.size(), 5u);
    finish(4, true);
    EXPECT_EQ(run_state(), RunState::kSuccess);
}

TEST_F(MappingTest, ClearingTheMappedTaskExpandsItAgain) {
    write_dag(R"(
dag_id: d
tasks:
  lista: {command: ["true"]}
  each:
    upstream: [lista]
    expand: {n: "{{ tasks.lista.output }}"}
    command: {argv: ["true"], env: {N: "{{ expand.n }}"}}
)");
    start_engine();
    trigger();
    finish(0, true, "[1, 2, 3]");
    ASSERT_EQ(runner_.started.size(), 4u);
    finish(1, true);
    finish(2, false);
    finish(3, true);
    ASSERT_EQ(run_state(), RunState::kFailed);

    // Clearing lista and each: lista runs again and each expands over its new output.
    ClearRequest clear;
    clear.dag_id = "d";
    clear.runs.run_id = "r1";
    clear.task_ids = std::vector<std::string>{"lista"};
    clear.include_downstream = true;
    clear.only_failed = false;
    clear.dry_run = false;
    auto cleared = engine_->clear_tasks(clear);
    ASSERT_TRUE(cleared) << cleared.error().message;
    EXPECT_EQ(cleared->size(), 4u);  // lista and the three instances
    pump();
    ASSERT_EQ(runner_.started.size(), 5u);
    EXPECT_EQ(runner_.started[4].attempt.task_id, "lista");
    finish(4, true, "[7, 8]");
    ASSERT_EQ(runner_.started.size(), 7u);
    EXPECT_EQ(runner_.env(5, "N"), "7");
    EXPECT_EQ(runner_.env(6, "N"), "8");
    EXPECT_EQ(runner_.started[5].attempt.try_number, 2);  // numbered after the old tries
    finish(5, true);
    finish(6, true);
    EXPECT_EQ(run_state(), RunState::kSuccess);
    EXPECT_EQ(state("each", 2), TaskState::kRemoved);  // the longer expansion's last one
}

TEST_F(MappingTest, ClearingOneFailedInstanceRunsOnlyIt) {
    write_dag(kFromParams);
    start_engine();
    trigger();
    finish(0, true, "1");
    finish(1, false);
    finish(2, true, "3");
    ASSERT_EQ(run_state(), RunState::kFailed);
    ClearRequest clear;
    clear.dag_id = "d";
    clear.runs.run_id = "r1";
    clear.dry_run = false;  // only_failed: instance 1 and total
    auto cleared = engine_->clear_tasks(clear);
    ASSERT_TRUE(cleared) << cleared.error().message;
    pump();
    ASSERT_EQ(runner_.started.size(), 4u);
    EXPECT_EQ(runner_.env(3, "I"), "1");
    EXPECT_EQ(runner_.env(3, "N"), "20");
    finish(3, true, "2");
    ASSERT_EQ(runner_.started.size(), 5u);
    EXPECT_EQ(runner_.env(4, "ALL"), "[1,2,3]");
    finish(4, true);
    EXPECT_EQ(run_state(), RunState::kSuccess);
}

TEST_F(MappingTest, RecoveryAfterACrashGoesOnWithTheInstances) {
    write_dag(kFromParams);
    start_engine();
    trigger();
    ASSERT_EQ(runner_.started.size(), 3u);
    finish(0, true, "1");
    crash_engine();  // instances 1 and 2 were running
    start_engine();
    // Their tries count as failed (no retries): the task failed, total is upstream_failed.
    EXPECT_EQ(state("each", 0), TaskState::kSuccess);
    EXPECT_EQ(state("each", 1), TaskState::kFailed);
    EXPECT_EQ(state("each", 2), TaskState::kFailed);
    EXPECT_EQ(state("total"), TaskState::kUpstreamFailed);
    EXPECT_EQ(run_state(), RunState::kFailed);
}

TEST_F(MappingTest, RecoveryRetriesInstancesWithTheirElements) {
    write_dag(R"(
dag_id: d
params:
  ids: {default: [10, 20]}
tasks:
  each:
    expand: {n: "{{ params.ids }}"}
    retries: 1
    retry_delay: 0s
    command: {argv: ["true"], env: {N: "{{ expand.n }}"}}
)");
    start_engine();
    trigger();
    finish(0, true, "1");
    crash_engine();
    start_engine();
    pump();
    // The elements are computed again from the same inputs.
    ASSERT_EQ(runner_.started.size(), 1u);
    EXPECT_EQ(runner_.env(0, "N"), "20");
    EXPECT_EQ(runner_.started[0].attempt.try_number, 2);
    finish(0, true, "2");
    EXPECT_EQ(run_state(), RunState::kSuccess);
}

TEST_F(MappingTest, AThousandInstancesRunWithoutQuadraticCost) {
    std::string ids;
    for (int i = 0; i < 1000; ++i) ids += (i ? ", " : "") + std::to_string(i);
    write_dag(R"(
dag_id: d
max_active_tasks: 1000
params:
  ids: {default: [)" + ids + R"(]}
tasks:
  each:
    expand: {n: "{{ params.ids }}"}
    command: {argv: ["true"], env: {N: "{{ expand.n }}"}}
  total: {command: ["true"], upstream: [each]}
)");
    start_engine();
    const auto began = std::chrono::steady_clock::now();
    trigger();
    ASSERT_EQ(runner_.started.size(), 1000u);
    for (std::size_t i = 0; i < 1000; ++i) finish(i, true, std::to_string(i));
    ASSERT_EQ(runner_.started.size(), 1001u);
    finish(1000, true);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    EXPECT_EQ(run_state(), RunState::kSuccess);
    EXPECT_EQ(instances("each").size(), 1000u);
    EXPECT_LT(seconds, 5.0);  // generous for sanitizer builds; about 0.3 s in a release build
}

}  // namespace
}  // namespace orquestra::scheduler
