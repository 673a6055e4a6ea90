#include "scheduler/engine.hpp"

#include "store/sqlite/sqlite_store.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <tuple>
#include <set>
#include <random>

namespace orquestra::scheduler {
namespace {

namespace fs = std::filesystem;
using store::RunState;
using store::TaskState;

// Records every try it is given; the test decides how each ends.
class ManualRunner final : public executor::TaskRunner {
public:
    void run(executor::Attempt attempt, std::function<void(executor::AttemptResult)> done) override {
        // Commands start at once unless the test holds them in the pool.
        if (attempt.on_started && start_commands) attempt.on_started({0, ""});
        started.push_back({std::move(attempt), std::move(done)});
    }
    bool start_commands = true;
    struct Started {
        executor::Attempt attempt;
        std::function<void(executor::AttemptResult)> done;
    };
    std::vector<Started> started;
    std::vector<std::string> task_ids() const {
        std::vector<std::string> out;
        for (const auto& s : started) out.push_back(s.attempt.task_id);
        return out;
    }
};

class EngineTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() / ("orquestra-engine-" + std::to_string(rd()));
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
    void write_dag(const std::string& name, const std::string& yaml) {
        std::ofstream(home_ / "dags" / name) << yaml;
    }
    // Runs every ready handler (the io_context stops when it runs out of work; restart it).
    void pump() {
        io_.restart();
        io_.poll();
    }
    void start_engine() {
        folder_ = std::make_unique<dag::DagFolder>(home_ / "dags", clock_);
        EngineOptions opts;
        opts.log_dir = home_ / "logs";
        opts.unpause_new_dags = true;
        engine_ = std::make_unique<Engine>(io_, *store_, *folder_, runner_, clock_, opts);
        ASSERT_TRUE(engine_->start());
        pump();
    }
    // Crash: the engine vanishes without finishing anything.
    void crash_engine() {
        engine_.reset();
        folder_.reset();
        pump();
        runner_.started.clear();
        store_.reset();
        open_store();
    }
    store::DagRun trigger(const std::string& dag_id, const std::string& conf = "{}",
                          std::optional<std::string> run_id = "r1") {
        TriggerRequest req;
        req.dag_id = dag_id;
        req.run_id = run_id;
        req.conf = boost::json::parse(conf).as_object();
        auto r = engine_->trigger(req);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        pump();
        return r ? *r : store::DagRun{};
    }
    void finish(std::size_t index, bool success, std::string output = "") {
        executor::AttemptResult r;
        r.success = success;
        if (!output.empty()) r.output_json = output;
        if (!success) r.error = "boom";
        runner_.started.at(index).done(std::move(r));
        pump();
    }
    TaskState state(const std::string& task, const std::string& run = "r1",
                    const std::string& dag = "d") {
        auto ti = store_->get_task_instance(dag, run, task);
        EXPECT_TRUE(ti && *ti);
        return ti && *ti ? (*ti)->state : TaskState::kRemoved;
    }
    RunState run_state(const std::string& run = "r1", const std::string& dag = "d") {
        auto r = store_->get_run(dag, run);
        EXPECT_TRUE(r && *r);
        return r && *r ? (*r)->state : RunState::kQueued;
    }

    fs::path home_;
    FakeClock clock_{1'700'000'000'000};
    boost::asio::io_context io_;
    std::unique_ptr<store::SqliteStore> store_;
    std::unique_ptr<dag::DagFolder> folder_;
    ManualRunner runner_;
    std::unique_ptr<Engine> engine_;
};

constexpr const char* kChain = R"(
dag_id: d
tasks:
  a: {command: ["true"]}
  b: {command: ["true"], upstream: [a]}
  c: {command: ["true"], upstream: [b]}
)";

TEST_F(EngineTest, ChainRunsTaskAfterTaskWithoutWaiting) {
    write_dag("d.yaml", kChain);
    start_engine();
    trigger("d");
    ASSERT_EQ(runner_.task_ids(), std::vector<std::string>{"a"});
    EXPECT_EQ(state("a"), TaskState::kRunning);
    EXPECT_EQ(state("b"), TaskState::kNone);
    EXPECT_EQ(run_state(), RunState::kRunning);
    finish(0, true, R"({"x":1})");  // no clock movement needed: b starts at once
    ASSERT_EQ(runner_.task_ids(), (std::vector<std::string>{"a", "b"}));
    finish(1, true);
    finish(2, true);
    EXPECT_EQ(run_state(), RunState::kSuccess);
    auto a = store_->get_task_instance("d", "r1", "a");
    EXPECT_EQ(*(*a)->output_json, R"({"x":1})");
    auto tries = store_->tries("d", "r1", "a");
    ASSERT_EQ(tries->size(), 1u);
    EXPECT_EQ((*tries)[0].state, TaskState::kSuccess);
    engine_->flush_logs();
    EXPECT_TRUE(fs::exists(engine_->log_path("d", "r1", "a", 1)));
    EXPECT_EQ(engine_->active_runs(), 0u);
}

TEST_F(EngineTest, ClearedRunStartsAtOnceWithoutALookAtTheStore) {
    write_dag("d.yaml", kChain);
    start_engine();
    trigger("d");
    finish(0, false);  // a fails: b and c are upstream_failed, the run fails
    ASSERT_EQ(run_state(), RunState::kFailed);
    EXPECT_EQ(engine_->active_runs(), 0u);

    auto dry = engine_->clear_run("d", "r1", true);
    ASSERT_TRUE(dry) << dry.error().message;
    EXPECT_EQ(dry->tis.size(), 3u);
    EXPECT_EQ(run_state(), RunState::kFailed);  // a dry run changes nothing

    auto cleared = engine_->clear_run("d", "r1", false);
    ASSERT_TRUE(cleared) << cleared.error().message;
    EXPECT_EQ(cleared->run.state, RunState::kQueued);
    pump();  // no housekeeping: the engine took the run back itself
    ASSERT_EQ(runner_.task_ids(), (std::vector<std::string>{"a", "a"}));
    EXPECT_EQ(runner_.started[1].attempt.try_number, 2);  // numbered after the old try
    finish(1, true);
    finish(2, true);
    finish(3, true);
    EXPECT_EQ(run_state(), RunState::kSuccess);
}

TEST_F(EngineTest, OperationsRefuseUnfinishedRunsAndUnknownNames) {
    write_dag("d.yaml", kChain);
    start_engine();
    trigger("d");  // running: a is held by the runner
    auto cleared = engine_->clear_run("d", "r1", false);
    ASSERT_FALSE(cleared);
    EXPECT_EQ(cleared.error().code, ErrorCode::kConflict);
    EXPECT_NE(cleared.error().message.find("is running"), std::string::npos);
    auto deleted = engine_->delete_run("d", "r1");
    ASSERT_FALSE(deleted);
    EXPECT_EQ(deleted.error().code, ErrorCode::kConflict);
    EXPECT_EQ(engine_->set_run_state("d", "nope", RunState::kSuccess).error().code,
              ErrorCode::kNotFound);
    ClearRequest unknown_task;
    unknown_task.dag_id = "d";
    unknown_task.task_ids = std::vector<std::string>{"zz"};
    EXPECT_EQ(engine_->clear_tasks(unknown_task).error().code, ErrorCode::kInvalidArgument);
    unknown_task.dag_id = "nope";
    EXPECT_EQ(engine_->clear_tasks(unknown_task).error().code, ErrorCode::kNotFound);
    EXPECT_EQ(run_state(), RunState::kRunning);
    EXPECT_EQ(state("a"), TaskState::kRunning);
}

TEST_F(EngineTest, MarkingAFailedTaskSuccessResumesTheRunBelowIt) {
    write_dag("d.yaml", kChain);
    start_engine();
    trigger("d");
    finish(0, true);
    finish(1, false);  // b fails, c upstream_failed
    ASSERT_EQ(run_state(), RunState::kFailed);
    MarkRequest mark;
    mark.dag_id = "d";
    mark.run.run_id = "r1";
    mark.task_id = "b";
    mark.dry_run = false;
    auto marked = engine_->mark_tasks(mark);
    ASSERT_TRUE(marked) << marked.error().message;
    ASSERT_EQ(marked->size(), 1u);
    EXPECT_EQ(marked->front().ti.task_id, "b");
    EXPECT_EQ(state("b"), TaskState::kSuccess);
    pump();
    ASSERT_EQ(runner_.task_ids(), (std::vector<std::string>{"a", "b", "c"}));
    finish(2, true);
    EXPECT_EQ(run_state(), RunState::kSuccess);

    // Marking the run failed skips nothing finished; deleting it removes it and its tasks.
    ASSERT_TRUE(engine_->set_run_state("d", "r1", RunState::kFailed));
    EXPECT_EQ(run_state(), RunState::kFailed);
    EXPECT_EQ(state("c"), TaskState::kSuccess);
    ASSERT_TRUE(engine_->delete_run("d", "r1"));
    EXPECT_FALSE(*store_->get_run("d", "r1"));
    EXPECT_TRUE(store_->task_instances("d", "r1")->empty());
}

TEST_F(EngineTest, RetriesAfterTheirDelayThenFail) {
    write_dag("d.yaml", R"(
dag_id: d
default_args: {retries: 2, retry_delay: 10s, retry_exponential_backoff: true}
tasks:
  a: {command: ["true"]}
  b: {command: ["true"], upstream: [a]}
)");
    start_engine();
    trigger("d");
    finish(0, false);
    EXPECT_EQ(state("a"), TaskState::kUpForRetry);
    clock_.advance(9'999);
    engine_->tick();
    EXPECT_EQ(runner_.started.size(), 1u);
    clock_.advance(1);
    engine_->tick();
    ASSERT_EQ(runner_.started.size(), 2u);
    EXPECT_EQ(runner_.started[1].attempt.try_number, 2);
    finish(1, false);
    clock_.advance(10'000);  // backoff doubles: 20 s now
    engine_->tick();
    EXPECT_EQ(runner_.started.size(), 2u);
    clock_.advance(10'000);
    engine_->tick();
    ASSERT_EQ(runner_.started.size(), 3u);
    finish(2, false);
    EXPECT_EQ(state("a"), TaskState::kFailed);
    EXPECT_EQ(state("b"), TaskState::kUpstreamFailed);
    EXPECT_EQ(run_state(), RunState::kFailed);
    EXPECT_EQ(store_->tries("d", "r1", "a")->size(), 3u);
}

TEST_F(EngineTest, TriggerRulesDecideAfterFailure) {
    write_dag("d.yaml", R"(
dag_id: d
tasks:
  a: {command: ["true"]}
  b: {command: ["true"], upstream: [a]}
  cleanup: {command: ["true"], upstream: [a], trigger_rule: all_done}
  alarm: {command: ["true"], upstream: [a], trigger_rule: one_failed}
)");
    start_engine();
    trigger("d");
    finish(0, false);
    EXPECT_EQ(state("b"), TaskState::kUpstreamFailed);
    EXPECT_EQ(runner_.task_ids(), (std::vector<std::string>{"a", "cleanup", "alarm"}));
    finish(1, true);
    finish(2, true);
    EXPECT_EQ(run_state(), RunState::kFailed);  // leaf b is upstream_failed
}

TEST_F(EngineTest, FalseConditionSkipsTaskAndItsDownstream) {
    write_dag("d.yaml", R"(
dag_id: d
params:
  n: {type: integer, default: 1}
tasks:
  a: {command: ["true"]}
  b: {command: ["true"], upstream: [a], when: "{{ 'admin' in tasks.a.output.grupos }}"}
  c: {command: ["true"], upstream: [b]}
)");
    start_engine();
    trigger("d");
    finish(0, true, R"({"grupos":["vendas"]})");
    EXPECT_EQ(state("b"), TaskState::kSkipped);
    EXPECT_EQ(state("c"), TaskState::kSkipped);
    EXPECT_EQ(run_state(), RunState::kSuccess);

    trigger("d", "{}", "r2");
    finish(1, true, R"({"grupos":["admin"]})");
    ASSERT_EQ(runner_.started.size(), 3u);
    EXPECT_EQ(runner_.started[2].attempt.task_id, "b");
}

TEST_F(EngineTest, TemplatesRenderParamsAndUpstreamOutputs) {
    write_dag("d.yaml", R"(
dag_id: d
params:
  usuario_id: {type: integer, minimum: 1, default: 1}
tasks:
  a:
    http: {service: users, path: "/usuarios/{{ params.usuario_id }}"}
  b:
    upstream: [a]
    http:
      service: messages
      method: POST
      path: /send
      json: {usuario_id: "{{ params.usuario_id }}", nome: "{{ tasks.a.output.nome }}"}
)");
    start_engine();
    trigger("d", R"({"usuario_id": 7})");
    auto& a = std::get<executor::RenderedHttp>(runner_.started[0].attempt.work);
    EXPECT_EQ(a.path, "/usuarios/7");
    EXPECT_EQ(*a.service, "users");
    finish(0, true, R"({"nome":"Ana"})");
    auto& b = std::get<executor::RenderedHttp>(runner_.started[1].attempt.work);
    EXPECT_EQ(*b.body, R"({"usuario_id":7,"nome":"Ana"})");
    EXPECT_EQ(b.content_type, "application/json");
}

TEST_F(EngineTest, BadConfCreatesNoRunAndDuplicateRunIdConflicts) {
    write_dag("d.yaml", R"(
dag_id: d
params:
  usuario_id: {type: integer, minimum: 1, default: 1}
tasks:
  a: {command: ["true"]}
)");
    start_engine();
    TriggerRequest bad;
    bad.dag_id = "d";
    bad.run_id = "bad";
    bad.conf = boost::json::parse(R"({"usuario_id": 0})").as_object();
    auto r = engine_->trigger(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("usuario_id"), std::string::npos);
    EXPECT_FALSE(*store_->get_run("d", "bad"));
    trigger("d");
    TriggerRequest again;
    again.dag_id = "d";
    again.run_id = "r1";
    auto dup = engine_->trigger(again);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
    TriggerRequest unknown;
    unknown.dag_id = "nope";
    EXPECT_EQ(engine_->trigger(unknown).error().code, ErrorCode::kNotFound);
}

TEST_F(EngineTest, ManyDefaultRunIdsInTheSameInstantAreUnique) {
    write_dag("d.yaml", kChain);
    start_engine();
    for (int i = 0; i < 5; ++i) trigger("d", "{}", std::nullopt);
    auto runs = store_->list_runs(store::RunFilter{});
    EXPECT_EQ(runs->total, 5);
}

TEST_F(EngineTest, MaxActiveTasksLimitsAFanOut) {
    std::string yaml = "dag_id: d\nmax_active_tasks: 3\ntasks:\n";
    for (int i = 0; i < 10; ++i) yaml += "  t" + std::to_string(i) + ": {command: [\"true\"]}\n";
    write_dag("d.yaml", yaml);
    start_engine();
    trigger("d");
    EXPECT_EQ(runner_.started.size(), 3u);
    finish(0, true);
    EXPECT_EQ(runner_.started.size(), 4u);
    for (std::size_t i = 1; i < runner_.started.size(); ++i) finish(i, true);
    for (std::size_t i = 4; i < runner_.started.size(); ++i) finish(i, true);
    while (run_state() == RunState::kRunning) {
        std::size_t before = runner_.started.size();
        for (std::size_t i = 0; i < before; ++i) {
            if (state(runner_.started[i].attempt.task_id) == TaskState::kRunning) finish(i, true);
        }
        if (runner_.started.size() == before) break;
    }
    EXPECT_EQ(runner_.started.size(), 10u);
    EXPECT_EQ(run_state(), RunState::kSuccess);
}

TEST_F(EngineTest, MaxActiveRunsQueuesTheRest) {
    write_dag("d.yaml", "dag_id: d\nmax_active_runs: 1\ntasks:\n  a: {command: [\"true\"]}\n");
    start_engine();
    trigger("d", "{}", "r1");
    trigger("d", "{}", "r2");
    EXPECT_EQ(run_state("r1"), RunState::kRunning);
    EXPECT_EQ(run_state("r2"), RunState::kQueued);
    finish(0, true);
    EXPECT_EQ(run_state("r1"), RunState::kSuccess);
    EXPECT_EQ(run_state("r2"), RunState::kRunning);
}

TEST_F(EngineTest, PausedDagKeepsRunsQueued) {
    write_dag("d.yaml", kChain);
    start_engine();
    ASSERT_TRUE(engine_->set_paused("d", true));
    trigger("d");
    EXPECT_EQ(run_state(), RunState::kQueued);
    EXPECT_TRUE(runner_.started.empty());
    ASSERT_TRUE(engine_->set_paused("d", false));
    pump();
    EXPECT_EQ(run_state(), RunState::kRunning);
    EXPECT_EQ(runner_.started.size(), 1u);
}

TEST_F(EngineTest, CrashedTryIsRetriedByItsPolicy) {
    write_dag("d.yaml", R"(
dag_id: d
default_args: {retries: 1, retry_delay: 0s}
tasks:
  a: {command: ["true"]}
  b: {command: ["true"], upstream: [a]}
)");
    start_engine();
    trigger("d");
    ASSERT_EQ(runner_.started.size(), 1u);
    crash_engine();
    start_engine();
    // Try 1 counted as failed; try 2 started once, not twice.
    ASSERT_EQ(runner_.started.size(), 1u);
    EXPECT_EQ(runner_.started[0].attempt.task_id, "a");
    EXPECT_EQ(runner_.started[0].attempt.try_number, 2);
    finish(0, true);
    EXPECT_EQ(state("a"), TaskState::kSuccess);
    ASSERT_EQ(runner_.started.size(), 2u);
    finish(1, true);
    EXPECT_EQ(run_state(), RunState::kSuccess);
    auto tries = store_->tries("d", "r1", "a");
    ASSERT_EQ(tries->size(), 2u);
    EXPECT_EQ((*tries)[0].state, TaskState::kFailed);
    EXPECT_NE((*tries)[0].error.find("scheduler stopped"), std::string::npos);
}

TEST_F(EngineTest, CrashedTryWithoutRetriesFailsTheRun) {
    write_dag("d.yaml", kChain);
    start_engine();
    trigger("d");
    crash_engine();
    start_engine();
    EXPECT_TRUE(runner_.started.empty());
    EXPECT_EQ(state("a"), TaskState::kFailed);
    EXPECT_EQ(state("b"), TaskState::kUpstreamFailed);
    EXPECT_EQ(run_state(), RunState::kFailed);
}

TEST_F(EngineTest, QueuedRunsSurviveARestart) {
    write_dag("d.yaml", kChain);
    start_engine();
    ASSERT_TRUE(engine_->set_paused("d", true));
    trigger("d");
    crash_engine();
    start_engine();
    EXPECT_EQ(run_state(), RunState::kQueued);
    ASSERT_TRUE(engine_->set_paused("d", false));
    pump();
    EXPECT_EQ(runner_.task_ids(), std::vector<std::string>{"a"});
}

TEST_F(EngineTest, ScheduleWithCatchupCreatesEveryMissedInterval) {
    // Clock: 2023-11-14T22:13:20Z. Hourly from 18:00 → 18, 19, 20, 21 are complete.
    write_dag("d.yaml", R"(
dag_id: d
schedule: 1h
start_date: 2023-11-14T18:00:00
catchup: true
tasks:
  a: {command: ["true"]}
)");
    start_engine();
    auto runs = store_->list_runs(store::RunFilter{});
    ASSERT_TRUE(runs);
    EXPECT_EQ(runs->total, 4);
    EXPECT_TRUE(*store_->get_run("d", "scheduled__2023-11-14T18:00:00+00:00"));
    clock_.advance(3600'000);
    engine_->tick();
    EXPECT_EQ(store_->list_runs(store::RunFilter{})->total, 5);
}

TEST_F(EngineTest, ScheduleWithoutCatchupCreatesOnlyTheLatest) {
    write_dag("d.yaml", R"(
dag_id: d
schedule: 1h
start_date: 2023-11-14T10:00:00
catchup: false
tasks:
  a: {command: ["true"]}
)");
    start_engine();
    auto runs = store_->list_runs(store::RunFilter{});
    EXPECT_EQ(runs->total, 1);
    EXPECT_TRUE(*store_->get_run("d", "scheduled__2023-11-14T21:00:00+00:00"));
}

TEST_F(EngineTest, RenderErrorFailsTheTryWithTheReason) {
    write_dag("d.yaml", R"(
dag_id: d
tasks:
  a: {http: {service: s, path: "/x/{{ dag_run.conf.missing }}"}}
)");
    start_engine();
    trigger("d");
    EXPECT_TRUE(runner_.started.empty());
    EXPECT_EQ(state("a"), TaskState::kFailed);
    auto tries = store_->tries("d", "r1", "a");
    ASSERT_EQ(tries->size(), 1u);
    EXPECT_NE((*tries)[0].error.find("missing"), std::string::npos);
}

}  // namespace
}  // namespace orquestra::scheduler

namespace orquestra::scheduler {
namespace {

// max_active_tasks frees a slot when a try ends: every run waiting for one must be woken, not
// only the run whose try ended (10 runs of one task used to leave two running for ever).
TEST_F(EngineTest, EveryRunWaitingForATaskSlotIsWokenWhenOneFrees) {
    write_dag("d.yaml", R"(
dag_id: d
max_active_runs: 4
max_active_tasks: 2
tasks:
  a: {command: ["sleep", "1"]}
)");
    start_engine();
    for (int i = 0; i < 10; ++i) trigger("d", "{}", "r" + std::to_string(i));
    std::size_t next = 0;
    while (next < runner_.started.size()) {
        ASSERT_LE(runner_.started.size() - next, 2u) << "max_active_tasks exceeded";
        finish(next++, true);
    }
    EXPECT_EQ(runner_.started.size(), 10u);
    EXPECT_EQ(engine_->active_runs(), 0u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(run_state("r" + std::to_string(i)), RunState::kSuccess);
}

// A retry that is due but finds no free slot waits for one without spinning on its timer.
TEST_F(EngineTest, DueRetryWithoutASlotWaitsForOne) {
    write_dag("d.yaml", R"(
dag_id: d
max_active_runs: 2
max_active_tasks: 1
default_args: {retries: 1, retry_delay: 1s}
tasks:
  a: {command: ["true"]}
)");
    start_engine();
    trigger("d", "{}", "r1");
    trigger("d", "{}", "r2");
    ASSERT_EQ(runner_.started.size(), 1u);  // r1's try holds the only slot
    finish(0, false);                       // r1 up for retry in 1 s; r2 takes the slot
    ASSERT_EQ(runner_.started.size(), 2u);
    EXPECT_EQ(runner_.started[1].attempt.run_id, "r2");
    clock_.advance(5'000);
    engine_->fire_timers();
    EXPECT_EQ(runner_.started.size(), 2u);  // due, but no slot
    auto views = engine_->inspect();
    ASSERT_EQ(views.size(), 2u);
    EXPECT_TRUE(views[0].waits_for_slot);
    EXPECT_FALSE(views[0].wake_at.has_value());  // no timer spins for it
    finish(1, true);                        // r2 ends: r1's retry starts
    ASSERT_EQ(runner_.started.size(), 3u);
    EXPECT_EQ(runner_.started[2].attempt.run_id, "r1");
    EXPECT_EQ(runner_.started[2].attempt.try_number, 2);
    finish(2, true);
    EXPECT_EQ(run_state("r1"), RunState::kSuccess);
    EXPECT_EQ(run_state("r2"), RunState::kSuccess);
}

TEST_F(EngineTest, CommandTryIsQueuedUntilItsProcessStarts) {
    write_dag("d.yaml", kChain);
    runner_.start_commands = false;
    start_engine();
    trigger("d");
    ASSERT_EQ(runner_.started.size(), 1u);
    EXPECT_EQ(state("a"), TaskState::kQueued);
    runner_.started[0].attempt.on_started({4242, "boot:1"});
    pump();
    EXPECT_EQ(state("a"), TaskState::kRunning);
    auto ti = store_->get_task_instance("d", "r1", "a");
    EXPECT_EQ((*ti)->pid, 4242);
    EXPECT_EQ((*ti)->process_identity, "boot:1");
}

// A try that only waited for a free command slot when the scheduler died never started: it
// keeps its try number and uses up no retry.
TEST_F(EngineTest, QueuedTryThatNeverStartedIsNoFailureAfterACrash) {
    write_dag("d.yaml", kChain);
    runner_.start_commands = false;
    start_engine();
    trigger("d");
    ASSERT_EQ(state("a"), TaskState::kQueued);
    crash_engine();
    runner_.start_commands = true;
    start_engine();
    ASSERT_EQ(runner_.started.size(), 1u);
    EXPECT_EQ(runner_.started[0].attempt.try_number, 1);
    EXPECT_EQ(state("a"), TaskState::kRunning);
    finish(0, true);
    auto tries = store_->tries("d", "r1", "a");
    ASSERT_EQ(tries->size(), 1u);
    EXPECT_EQ((*tries)[0].state, TaskState::kSuccess);
}

TEST_F(EngineTest, RunningTryCountsAsFailedAfterACrash) {
    write_dag("d.yaml", kChain);
    start_engine();
    trigger("d");
    ASSERT_EQ(state("a"), TaskState::kRunning);
    crash_engine();
    start_engine();
    EXPECT_EQ(state("a"), TaskState::kFailed);
    EXPECT_EQ(run_state(), RunState::kFailed);
    EXPECT_TRUE(runner_.started.empty());
}

// Catch-up from long ago creates runs only as max_active_runs allows, and the next one as a
// run ends.
TEST_F(EngineTest, CatchUpCreatesRunsOnlyAsMaxActiveRunsAllows) {
    write_dag("d.yaml", R"(
dag_id: d
schedule: "* * * * *"
start_date: 1970-01-01
catchup: true
max_active_runs: 2
tasks:
  a: {command: ["true"]}
)");
    start_engine();
    for (int i = 0; i < 5; ++i) engine_->housekeeping();
    pump();
    EXPECT_EQ(engine_->active_runs(), 2u);
    auto page = store_->list_runs(store::RunFilter{});
    EXPECT_EQ(page->total, 2);
    ASSERT_EQ(runner_.started.size(), 2u);
    finish(0, true);
    EXPECT_EQ(engine_->active_runs(), 2u);  // one ended, the next one was made
    EXPECT_EQ(store_->list_runs(store::RunFilter{})->total, 3);
}

TEST_F(EngineTest, RunsOfADeletedDagEndAndStartNothing) {
    write_dag("d.yaml", R"(
dag_id: d
max_active_runs: 1
tasks:
  a: {command: ["true"]}
  b: {command: ["true"], upstream: [a]}
)");
    start_engine();
    trigger("d", "{}", "r1");
    trigger("d", "{}", "r2");  // queued behind r1
    ASSERT_EQ(runner_.started.size(), 1u);
    fs::remove(home_ / "dags" / "d.yaml");
    engine_->housekeeping();
    pump();
    EXPECT_EQ(run_state("r2"), RunState::kFailed);
    EXPECT_EQ(state("a", "r2"), TaskState::kRemoved);
    EXPECT_EQ(run_state("r1"), RunState::kRunning);  // its try is still running
    EXPECT_EQ(state("b", "r1"), TaskState::kRemoved);
    finish(0, true);
    EXPECT_EQ(runner_.started.size(), 1u);  // b never starts
    EXPECT_EQ(run_state("r1"), RunState::kFailed);
    auto run = store_->get_run("d", "r1");
    EXPECT_NE((*run)->note.find("no longer in the DAG folder"), std::string::npos);
    EXPECT_EQ(engine_->active_runs(), 0u);
}

TEST_F(EngineTest, RunsOfABrokenDagWaitUntilItLoadsAgain) {
    write_dag("d.yaml", kChain);
    start_engine();
    trigger("d");
    write_dag("d.yaml", "dag_id: d\ntasks: [\n");
    engine_->housekeeping();
    pump();
    finish(0, true);
    EXPECT_EQ(runner_.started.size(), 1u);  // held: b does not start
    EXPECT_EQ(run_state(), RunState::kRunning);
    write_dag("d.yaml", kChain + std::string("\n"));
    engine_->housekeeping();
    pump();
    ASSERT_EQ(runner_.started.size(), 2u);
    EXPECT_EQ(runner_.started[1].attempt.task_id, "b");
}

TEST_F(EngineTest, RunIdsDotAndDotDotAreRefusedAndLogPathsAreOneToOne) {
    write_dag("d.yaml", kChain);
    start_engine();
    for (const char* bad : {".", ".."}) {
        TriggerRequest req;
        req.dag_id = "d";
        req.run_id = bad;
        auto r = engine_->trigger(req);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
    std::set<fs::path> paths;
    for (const char* id : {"_", ".", "..", "%2E", "a b", "a%20b", "a/b", "a_b"}) {
        paths.insert(engine_->log_path("d", id, "a", 1));
    }
    EXPECT_EQ(paths.size(), 8u);
    for (const auto& p : paths) {
        EXPECT_EQ(p.parent_path().parent_path().parent_path(), home_ / "logs" / "d") << p;
    }
}

}  // namespace
}  // namespace orquestra::scheduler

namespace orquestra::scheduler {
namespace {

// Several schedulers on one database file, each with its own connection, runner and DAG folder,
// and an engine that runs nothing (the API's in a `webserver` process) creating the runs.
class SchedulersTest : public ::testing::Test {
protected:
    struct Node {
        std::unique_ptr<store::SqliteStore> store;
        std::unique_ptr<dag::DagFolder> folder;
        ManualRunner runner;
        std::unique_ptr<Engine> engine;
        std::size_t finished = 0;  // tries of `runner.started` ended by the test so far
    };

    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() / ("orquestra-schedulers-" + std::to_string(rd()));
        fs::create_directories(home_ / "dags");
        std::ofstream(home_ / "dags" / "d.yaml") << R"(
dag_id: d
default_args: {retries: 1, retry_delay: 1s}
tasks:
  a: {command: ["true"]}
  b: {command: ["true"], upstream: [a]}
)";
        start(api_, "api", false);
        start(a_, "scheduler-a", true);
        start(b_, "scheduler-b", true);
    }
    void TearDown() override {
        for (Node* n : {&api_, &a_, &b_}) n->engine.reset();
        fs::remove_all(home_);
    }
    void start(Node& n, const std::string& owner, bool execute) {
        auto s = store::SqliteStore::open(home_ / "orquestra.db");
        ASSERT_TRUE(s) << s.error().message;
        n.store = std::move(*s);
        ASSERT_TRUE(n.store->migrate());
        n.folder = std::make_unique<dag::DagFolder>(home_ / "dags", clock_);
        EngineOptions opts;
        opts.log_dir = home_ / "logs";
        opts.unpause_new_dags = true;
        opts.owner = owner;
        opts.execute = execute;
        opts.sole_scheduler = false;
        opts.scheduler_timeout = std::chrono::seconds(10);
        opts.claim_batch = 5;
        n.engine = std::make_unique<Engine>(io_, *n.store, *n.folder, n.runner, clock_, opts);
        if (execute) {
            ASSERT_TRUE(n.engine->start());
        } else {
            n.engine->load_dags();
        }
        pump();
    }
    void pump() {
        io_.restart();
        io_.poll();
    }
    void trigger(int n) {
        for (int i = 0; i < n; ++i) {
            TriggerRequest req;
            req.dag_id = "d";
            req.run_id = "r" + std::to_string(i);
            auto r = api_.engine->trigger(req);
            ASSERT_TRUE(r) << r.error().message;
            EXPECT_EQ(r->owner, "");  // left for a scheduler to claim
        }
        pump();
        EXPECT_TRUE(api_.runner.started.empty());
    }
    // Ends every try the node was given and has not ended yet; true when there was one.
    bool finish_all(Node& n, bool success = true) {
        bool any = false;
        while (n.finished < n.runner.started.size()) {
            executor::AttemptResult r;
            r.success = success;
            if (!success) r.error = "boom";
            n.runner.started[n.finished++].done(std::move(r));
            any = true;
        }
        pump();
        return any;
    }
    std::map<std::string, int> owners() {
        store::RunFilter f;
        f.limit = 1000;
        std::map<std::string, int> out;
        auto page = a_.store->list_runs(f);
        EXPECT_TRUE(page);
        if (page) {
            for (const auto& run : page->items) ++out[run.owner];
        }
        return out;
    }
    using Try = std::tuple<std::string, std::string, int>;  // run, task, try number
    static std::set<Try> tries_of(const Node& n) {
        std::set<Try> out;
        for (const auto& s : n.runner.started) {
            EXPECT_TRUE(out.emplace(s.attempt.run_id, s.attempt.task_id, s.attempt.try_number)
                            .second)
                << "try given twice to one scheduler";
        }
        return out;
    }

    fs::path home_;
    FakeClock clock_{1'700'000'000'000};
    boost::asio::io_context io_;
    Node api_, a_, b_;
};

TEST_F(SchedulersTest, RunsAreSharedAndEveryTryRunsOnce) {
    trigger(20);
    // Each look claims a batch of 5: two looks each take all 20.
    for (int round = 0; round < 2; ++round) {
        a_.engine->housekeeping();
        pump();
        b_.engine->housekeeping();
        pump();
    }
    EXPECT_EQ(owners(), (std::map<std::string, int>{{"scheduler-a", 10}, {"scheduler-b", 10}}));
    EXPECT_EQ(a_.runner.started.size(), 10u);
    // max_active_runs (16) holds across schedulers: B starts 6 while A runs 10.
    EXPECT_EQ(b_.runner.started.size(), 6u);
    while (finish_all(a_) | finish_all(b_)) {
        a_.engine->housekeeping();  // a look at the store between tries claims nothing
        b_.engine->housekeeping();
        pump();
    }
    const auto ta = tries_of(a_), tb = tries_of(b_);
    EXPECT_EQ(ta.size() + tb.size(), 40u);  // 20 runs x 2 tasks, one try each
    for (const auto& t : ta) EXPECT_FALSE(tb.contains(t)) << std::get<0>(t) << " ran twice";
    store::RunFilter f;
    f.states = {RunState::kSuccess};
    EXPECT_EQ(a_.store->list_runs(f)->total, 20);
}

TEST_F(SchedulersTest, MaxActiveRunsHoldsAcrossSchedulers) {
    std::ofstream(home_ / "dags" / "m.yaml") << R"(
dag_id: m
max_active_runs: 2
tasks:
  a: {command: ["true"]}
)";
    api_.engine->load_dags();
    for (Node* n : {&a_, &b_}) n->engine->housekeeping();
    pump();
    const auto trigger_m = [&](const std::string& run_id) {
        TriggerRequest req;
        req.dag_id = "m";
        req.run_id = run_id;
        auto r = api_.engine->trigger(req);
        ASSERT_TRUE(r) << r.error().message;
        pump();
    };
    trigger_m("m0");
    trigger_m("m1");
    a_.engine->housekeeping();
    pump();
    ASSERT_EQ(a_.runner.started.size(), 2u);  // A runs two: the DAG's limit
    trigger_m("m2");
    trigger_m("m3");
    b_.engine->housekeeping();
    pump();
    EXPECT_EQ(owners(), (std::map<std::string, int>{{"scheduler-a", 2}, {"scheduler-b", 2}}));
    EXPECT_TRUE(b_.runner.started.empty()) << "B started runs while A's two fill the limit";
    finish_all(a_);
    pump();
    b_.engine->housekeeping();  // B sees A's runs ended: room for its own
    pump();
    EXPECT_EQ(b_.runner.started.size(), 2u);
}

TEST_F(SchedulersTest, ADeadSchedulersRunsAreTakenOverAndItStopsIfItComesBack) {
    trigger(10);
    a_.engine->housekeeping();
    a_.engine->housekeeping();
    pump();
    ASSERT_EQ(owners(), (std::map<std::string, int>{{"scheduler-a", 10}}));
    ASSERT_EQ(a_.runner.started.size(), 10u);  // task a of each run is running at A

    // A stops beating (paused, partitioned or killed): after the timeout B takes its runs.
    clock_.advance(9'000);
    b_.engine->housekeeping();
    pump();
    EXPECT_EQ(owners(), (std::map<std::string, int>{{"scheduler-a", 10}}));  // not yet
    clock_.advance(2'000);
    for (int i = 0; i < 3; ++i) {
        b_.engine->housekeeping();
        pump();
    }
    EXPECT_EQ(owners(), (std::map<std::string, int>{{"scheduler-b", 10}}));
    // A's running tries count as failed; the retry waits for its delay.
    auto ti = b_.store->get_task_instance("d", "r0", "a");
    ASSERT_TRUE(ti && *ti);
    EXPECT_EQ((*ti)->state, TaskState::kUpForRetry);
    EXPECT_TRUE(b_.runner.started.empty());

    // A comes back: its heartbeat row is gone, so it stops, and what its tries report is
    // dropped.
    a_.engine->housekeeping();
    EXPECT_FALSE(a_.engine->owns_its_runs());
    finish_all(a_);
    ti = b_.store->get_task_instance("d", "r0", "a");
    EXPECT_EQ((*ti)->state, TaskState::kUpForRetry);
    TriggerRequest late;
    late.dag_id = "d";
    EXPECT_EQ(a_.engine->trigger(late).error().code, ErrorCode::kUnavailable);

    clock_.advance(1'000);
    b_.engine->fire_timers();
    pump();
    ASSERT_EQ(b_.runner.started.size(), 10u);
    while (finish_all(b_)) {
    }
    store::RunFilter f;
    f.states = {RunState::kSuccess};
    EXPECT_EQ(b_.store->list_runs(f)->total, 10);
    const auto ta = tries_of(a_), tb = tries_of(b_);
    for (const auto& t : ta) EXPECT_FALSE(tb.contains(t)) << std::get<0>(t) << " ran twice";
    auto tries = b_.store->tries("d", "r3", "a");
    ASSERT_EQ(tries->size(), 2u);
    EXPECT_EQ((*tries)[0].state, TaskState::kFailed);
    EXPECT_EQ((*tries)[1].state, TaskState::kSuccess);
}

TEST_F(SchedulersTest, ATestEngineKeepsItsRunWhileItBeats) {
    // `dags test`: an engine that works on the one run it made, next to a scheduler.
    Node tester;
    auto s = store::SqliteStore::open(home_ / "orquestra.db");
    ASSERT_TRUE(s) << s.error().message;
    tester.store = std::move(*s);
    tester.folder = std::make_unique<dag::DagFolder>(home_ / "dags", clock_);
    EngineOptions opts;
    opts.log_dir = home_ / "logs";
    opts.owner = "dags-test";
    opts.only_dag = "d";
    opts.ignore_pause = true;
    tester.engine = std::make_unique<Engine>(io_, *tester.store, *tester.folder, tester.runner,
                                             clock_, opts);
    ASSERT_TRUE(tester.engine->start());
    TriggerRequest req;
    req.dag_id = "d";
    req.run_id = "test__1";
    ASSERT_TRUE(tester.engine->trigger(req));
    pump();
    ASSERT_EQ(tester.runner.started.size(), 1u);
    for (int second = 0; second < 40; ++second) {
        clock_.advance(1'000);
        tester.engine->housekeeping();
        b_.engine->housekeeping();
        pump();
    }
    EXPECT_EQ((*b_.store->get_run("d", "test__1"))->owner, "dags-test");
    EXPECT_TRUE(b_.runner.started.empty());
    EXPECT_TRUE(tester.engine->owns_its_runs());
    finish_all(tester);
    EXPECT_EQ((*b_.store->get_run("d", "test__1"))->state, RunState::kRunning);  // its task b runs next
    tester.engine.reset();
}

}  // namespace
}  // namespace orquestra::scheduler
