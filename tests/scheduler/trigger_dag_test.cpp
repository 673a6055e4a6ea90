// trigger_dag tries in the engine (scheduler/trigger_dag.cpp), on a real SQLite file with a
// fake clock; the child runs' command tasks are held by a runner the test ends by hand.
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

class HeldRunner final : public executor::TaskRunner {
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
};

class TriggerDagTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() / ("orquestra-trigger-" + std::to_string(rd()));
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
    void crash_engine() {
        engine_.reset();
        folder_.reset();
        pump();
        runner_.started.clear();
        store_.reset();
        open_store();
    }
    void trigger(const std::string& dag_id, const std::string& conf = "{}") {
        TriggerRequest req;
        req.dag_id = dag_id;
        req.run_id = "r1";
        req.conf = boost::json::parse(conf).as_object();
        auto r = engine_->trigger(req);
        ASSERT_TRUE(r) << r.error().message;
        pump();
    }
    void finish(std::size_t index, bool success) {
        executor::AttemptResult r;
        r.success = success;
        if (!success) r.error = "boom";
        runner_.started.at(index).done(std::move(r));
        pump();
    }
    store::TaskInstance ti(const std::string& dag, const std::string& run,
                           const std::string& task) {
        auto found = store_->get_task_instance(dag, run, task);
        EXPECT_TRUE(found && *found) << dag << " / " << run << " / " << task;
        return found && *found ? **found : store::TaskInstance{};
    }
    std::optional<store::DagRun> run(const std::string& dag, const std::string& run_id) {
        auto found = store_->get_run(dag, run_id);
        EXPECT_TRUE(found);
        return found ? *found : std::nullopt;
    }
    std::string last_error(const std::string& dag, const std::string& run,
                           const std::string& task) {
        auto tries = store_->tries(dag, run, task);
        EXPECT_TRUE(tries && !tries->empty());
        return tries && !tries->empty() ? tries->back().error : std::string();
    }

    fs::path home_;
    FakeClock clock_{1'700'000'000'000};
    boost::asio::io_context io_;
    std::unique_ptr<store::SqliteStore> store_;
    std::unique_ptr<dag::DagFolder> folder_;
    HeldRunner runner_;
    std::unique_ptr<Engine> engine_;
};

constexpr const char* kChild = R"(
dag_id: child
params:
  n: {type: integer, minimum: 1}
tasks:
  work: {command: ["true"]}
)";

std::string parent_dag(const std::string& trigger, const std::string& extra = "") {
    return "dag_id: parent\nparams: {n: 3}\n" + extra + "tasks:\n  t:\n    trigger_dag: " +
           trigger + "\n  after: {command: [\"true\"], upstream: [t], trigger_rule: all_done}\n";
}

TEST_F(TriggerDagTest, WithoutWaitTheTrySucceedsAtOnceAndTheChildRecordsItsParent) {
    write_dag("child.yaml", kChild);
    write_dag("parent.yaml", parent_dag("{dag_id: child, conf: {n: \"{{ params.n }}\"}}"));
    start_engine();
    trigger("parent");
    const auto t = ti("parent", "r1", "t");
    EXPECT_EQ(t.state, TaskState::kSuccess);
    EXPECT_EQ(t.operator_name, "trigger_dag");
    ASSERT_TRUE(t.output_json);
    EXPECT_EQ(*t.output_json, R"({"dag_id":"child","run_id":"triggered__r1__t"})");
    auto child = run("child", "triggered__r1__t");
    ASSERT_TRUE(child);
    EXPECT_EQ(child->parent_dag_id, "parent");
    EXPECT_EQ(child->parent_run_id, "r1");
    EXPECT_EQ(child->parent_task_id, "t");
    EXPECT_EQ(child->trigger_depth, 1);
    EXPECT_EQ(child->run_type, store::RunType::kManual);
    EXPECT_EQ(boost::json::parse(child->conf_json), boost::json::parse(R"({"n":3})"));
    // The child runs (its command is held), the parent's downstream task too.
    ASSERT_EQ(runner_.started.size(), 2u);
    std::set<std::string> dags{runner_.started[0].attempt.dag_id, runner_.started[1].attempt.dag_id};
    EXPECT_EQ(dags, (std::set<std::string>{"child", "parent"}));
    auto tries = store_->tries("parent", "r1", "t");
    ASSERT_EQ(tries->size(), 1u);
    EXPECT_NE(tries->front().rendered_json.find("\"trigger_dag\""), std::string::npos);
}

TEST_F(TriggerDagTest, WaitEndsWithTheChildsSuccess) {
    write_dag("child.yaml", kChild);
    write_dag("parent.yaml", parent_dag("{dag_id: child, conf: {n: 2}, wait: true}"));
    start_engine();
    trigger("parent");
    EXPECT_EQ(ti("parent", "r1", "t").state, TaskState::kRunning);
    ASSERT_EQ(runner_.started.size(), 1u);
    EXPECT_EQ(runner_.started[0].attempt.dag_id, "child");
    finish(0, true);
    EXPECT_EQ(run("child", "triggered__r1__t")->state, RunState::kSuccess);
    const auto t = ti("parent", "r1", "t");
    EXPECT_EQ(t.state, TaskState::kSuccess);
    EXPECT_EQ(*t.output_json,
              R"({"dag_id":"child","run_id":"triggered__r1__t","state":"success"})");
    ASSERT_EQ(runner_.started.size(), 2u);  // `after` started at once
    finish(1, true);
    EXPECT_EQ(run("parent", "r1")->state, RunState::kSuccess);
}

TEST_F(TriggerDagTest, WaitFailsWithTheChildsFailureNamingIt) {
    write_dag("child.yaml", kChild);
    write_dag("parent.yaml", parent_dag("{dag_id: child, conf: {n: 2}, wait: true}"));
    start_engine();
    trigger("parent");
    finish(0, false);
    const auto t = ti("parent", "r1", "t");
    EXPECT_EQ(t.state, TaskState::kFailed);
    EXPECT_EQ(*t.output_json, R"({"dag_id":"child","run_id":"triggered__r1__t","state":"failed"})");
    const std::string error = last_error("parent", "r1", "t");
    EXPECT_NE(error.find("run triggered__r1__t of DAG 'child' ended failed"), std::string::npos)
        << error;
}

TEST_F(TriggerDagTest, AllowedStatesMayAcceptAFailedChild) {
    write_dag("child.yaml", kChild);
    write_dag("parent.yaml", parent_dag("{dag_id: child, conf: {n: 2}, wait: true, "
                                        "allowed_states: [success, failed]}"));
    start_engine();
    trigger("parent");
    finish(0, false);
    EXPECT_EQ(ti("parent", "r1", "t").state, TaskState::kSuccess);
}

TEST_F(TriggerDagTest, BadConfFailsTheTryWithTheValidationMessage) {
    write_dag("child.yaml", kChild);
    write_dag("parent.yaml", parent_dag("{dag_id: child, conf: {n: 0}}"));
    start_engine();
    trigger("parent");
    EXPECT_EQ(ti("parent", "r1", "t").state, TaskState::kFailed);
    const std::string error = last_error("parent", "r1", "t");
    EXPECT_NE(error.find("cannot trigger DAG 'child'"), std::string::npos) << error;
    EXPECT_NE(error.find("minimum"), std::string::npos) << error;
    EXPECT_FALSE(run("child", "triggered__r1__t").has_value());
}

TEST_F(TriggerDagTest, UnknownDagFailsTheTryAtRunTime) {
    write_dag("parent.yaml", parent_dag("{dag_id: nope}"));
    start_engine();
    trigger("parent");
    EXPECT_EQ(ti("parent", "r1", "t").state, TaskState::kFailed);
    const std::string error = last_error("parent", "r1", "t");
    EXPECT_NE(error.find("cannot trigger DAG 'nope': no such DAG is loaded"), std::string::npos)
        << error;
}

TEST_F(TriggerDagTest, TemplatedSelfTriggerEndsAtTheDepthBound) {
    write_dag("loop.yaml", R"(
dag_id: loop
tasks:
  again: {trigger_dag: "{{ dag_run.dag_id }}"}
)");
    start_engine();
    TriggerRequest req;
    req.dag_id = "loop";
    req.run_id = "r1";
    ASSERT_TRUE(engine_->trigger(req));
    pump();
    store::RunFilter all;
    all.dag_id = "loop";
    all.limit = 1000;
    auto runs = store_->list_runs(all);
    ASSERT_TRUE(runs);
    ASSERT_EQ(runs->items.size(), static_cast<std::size_t>(dag::kMaxTriggerDepth) + 1);
    int deepest = 0;
    std::string deepest_run;
    for (const auto& r : runs->items) {
        EXPECT_NE(r.state, RunState::kQueued);
        if (r.trigger_depth > deepest) {
            deepest = r.trigger_depth;
            deepest_run = r.run_id;
        }
    }
    EXPECT_EQ(deepest, dag::kMaxTriggerDepth);
    EXPECT_EQ(ti("loop", deepest_run, "again").state, TaskState::kFailed);
    const std::string error = last_error("loop", deepest_run, "again");
    EXPECT_NE(error.find("16 trigger_dag hops"), std::string::npos) << error;
}

TEST_F(TriggerDagTest, AWaitingTryKeepsWaitingAfterARestart) {
    write_dag("child.yaml", R"(
dag_id: child
default_args: {retries: 1, retry_delay: 0s}
tasks:
  work: {command: ["true"]}
)");
    write_dag("parent.yaml", parent_dag("{dag_id: child, wait: true}"));
    start_engine();
    trigger("parent");
    ASSERT_EQ(runner_.started.size(), 1u);
    crash_engine();
    start_engine();
    // The parent's try is not failed as a dead process's would be; the child's command is.
    auto t = ti("parent", "r1", "t");
    EXPECT_EQ(t.state, TaskState::kRunning);
    EXPECT_EQ(t.try_number, 1);
    ASSERT_EQ(runner_.started.size(), 1u);
    EXPECT_EQ(runner_.started[0].attempt.dag_id, "child");
    EXPECT_EQ(runner_.started[0].attempt.try_number, 2);
    finish(0, true);
    EXPECT_EQ(ti("parent", "r1", "t").state, TaskState::kSuccess);
    store::RunFilter all;
    all.dag_id = "child";
    EXPECT_EQ(store_->list_runs(all)->items.size(), 1u);  // found again, not triggered again
}

TEST_F(TriggerDagTest, AChildThatEndedWhileNoSchedulerRanIsFoundAtTheRestart) {
    write_dag("child.yaml", kChild);
    write_dag("parent.yaml", parent_dag("{dag_id: child, conf: {n: 1}, wait: true}"));
    start_engine();
    trigger("parent");
    crash_engine();
    // Another process ended the child meanwhile.
    auto child = run("child", "triggered__r1__t");
    ASSERT_TRUE(child);
    child->state = RunState::kSuccess;
    child->end_date = clock_.now_ms();
    store::Changes changes;
    changes.runs.push_back(*child);
    ASSERT_TRUE(store_->commit(changes));
    start_engine();
    pump();
    EXPECT_EQ(ti("parent", "r1", "t").state, TaskState::kSuccess);
}

TEST_F(TriggerDagTest, WaitTimesOutAndTheChildKeepsRunning) {
    write_dag("child.yaml", kChild);
    write_dag("parent.yaml", parent_dag("{dag_id: child, conf: {n: 1}, wait: true, timeout: 1m}"));
    start_engine();
    trigger("parent");
    ASSERT_TRUE(engine_->wake_deadline());
    EXPECT_EQ(*engine_->wake_deadline(), clock_.now_ms() + 60'000);
    clock_.advance(61'000);
    engine_->fire_timers();
    pump();
    EXPECT_EQ(ti("parent", "r1", "t").state, TaskState::kFailed);
    EXPECT_NE(last_error("parent", "r1", "t").find("did not end before the timeout"),
              std::string::npos);
    EXPECT_EQ(run("child", "triggered__r1__t")->state, RunState::kRunning);
}

TEST_F(TriggerDagTest, ARetryTriggersARunOfItsOwn) {
    write_dag("child.yaml", kChild);
    write_dag("parent.yaml",
              parent_dag("{dag_id: child, conf: {n: 1}, wait: true}",
                         "default_args: {retries: 1, retry_delay: 0s}\n"));
    start_engine();
    trigger("parent");
    finish(0, false);  // the child fails: try 1 fails, try 2 triggers again
    EXPECT_EQ(ti("parent", "r1", "t").try_number, 2);
    auto second = run("child", "triggered__r1__t__2");
    ASSERT_TRUE(second);
    ASSERT_EQ(runner_.started.size(), 2u);
    finish(1, true);
    EXPECT_EQ(ti("parent", "r1", "t").state, TaskState::kSuccess);
}

TEST_F(TriggerDagTest, ARunIdTakenByAnotherRunFailsTheTry) {
    write_dag("child.yaml", kChild);
    write_dag("parent.yaml", parent_dag("{dag_id: child, run_id: fixed, conf: {n: 1}}"));
    start_engine();
    TriggerRequest other;
    other.dag_id = "child";
    other.run_id = "fixed";
    other.conf = boost::json::parse(R"({"n":1})").as_object();
    ASSERT_TRUE(engine_->trigger(other));
    trigger("parent");
    EXPECT_EQ(ti("parent", "r1", "t").state, TaskState::kFailed);
    EXPECT_NE(last_error("parent", "r1", "t").find("already exists and was not triggered by this "
                                                   "task"),
              std::string::npos);
}

TEST_F(TriggerDagTest, APausedChildStaysQueuedAndTheParentWaits) {
    write_dag("child.yaml", kChild);
    write_dag("parent.yaml", parent_dag("{dag_id: child, conf: {n: 1}, wait: true}"));
    start_engine();
    ASSERT_TRUE(engine_->set_paused("child", true));
    trigger("parent");
    EXPECT_EQ(run("child", "triggered__r1__t")->state, RunState::kQueued);
    EXPECT_EQ(ti("parent", "r1", "t").state, TaskState::kRunning);
    EXPECT_TRUE(runner_.started.empty());
    ASSERT_TRUE(engine_->set_paused("child", false));
    pump();
    ASSERT_EQ(runner_.started.size(), 1u);
    finish(0, true);
    EXPECT_EQ(ti("parent", "r1", "t").state, TaskState::kSuccess);
}

TEST_F(TriggerDagTest, ASecretNeverGoesIntoTheChildsConf) {
    write_dag("child.yaml", R"(
dag_id: child
tasks:
  work: {command: ["true"]}
)");
    write_dag("parent.yaml", parent_dag("{dag_id: child, conf: {p: \"{{ conn.api.password }}\"}}"));
    store::Connection conn;
    conn.conn_id = "api";
    conn.conn_type = "http";
    conn.host = "example.org";
    conn.password = "hunter2-very-secret";
    ASSERT_TRUE(store_->put_connection(conn, store::PutMode::kCreate));
    start_engine();
    trigger("parent");
    EXPECT_EQ(ti("parent", "r1", "t").state, TaskState::kFailed);
    const std::string error = last_error("parent", "r1", "t");
    EXPECT_NE(error.find("would carry a secret"), std::string::npos) << error;
    EXPECT_EQ(error.find("hunter2"), std::string::npos);
    EXPECT_FALSE(run("child", "triggered__r1__t").has_value());
}

}  // namespace
}  // namespace orquestra::scheduler
