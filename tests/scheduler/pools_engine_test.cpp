// Pools in the scheduler: tries take their pool's slots, wait in `scheduled` without blocking
// anything else, fail naming a pool that cannot hold them, and share a pool across schedulers.
// A fake clock and a runner the test ends tries with; no sleeps.

#include "scheduler/engine.hpp"

#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

namespace orquestra::scheduler {
namespace {

namespace fs = std::filesystem;
using store::RunState;
using store::TaskState;

// Holds every try until the test ends it.
class HeldRunner final : public executor::TaskRunner {
public:
    void run(executor::Attempt attempt, std::function<void(executor::AttemptResult)> done) override {
        if (attempt.on_started) attempt.on_started({0, ""});
        tries.push_back({std::move(attempt), std::move(done), false});
    }
    struct Try {
        executor::Attempt attempt;
        std::function<void(executor::AttemptResult)> done;
        bool ended = false;
    };
    std::vector<Try> tries;
    int open() const {
        return static_cast<int>(std::count_if(tries.begin(), tries.end(),
                                              [](const Try& t) { return !t.ended; }));
    }
    // Ends the oldest try still running; false when there is none.
    bool end_oldest() {
        for (auto& t : tries) {
            if (t.ended) continue;
            t.ended = true;
            executor::AttemptResult r;
            r.success = true;
            t.done(std::move(r));
            return true;
        }
        return false;
    }
    std::vector<std::string> open_ids() const {
        std::vector<std::string> out;
        for (const auto& t : tries) {
            if (!t.ended) out.push_back(t.attempt.task_id);
        }
        return out;
    }
};

class PoolsEngineTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() / ("orquestra-pools-" + std::to_string(rd()));
        fs::create_directories(home_ / "dags");
        store_ = open_store();
    }
    void TearDown() override {
        engines_.clear();
        folders_.clear();
        extra_stores_.clear();
        store_.reset();
        fs::remove_all(home_);
    }
    std::unique_ptr<store::SqliteStore> open_store() {
        auto s = store::SqliteStore::open(home_ / "orquestra.db");
        EXPECT_TRUE(s) << s.error().message;
        EXPECT_TRUE((*s)->migrate());
        return std::move(*s);
    }
    void write_dag(const std::string& name, const std::string& yaml) {
        std::ofstream(home_ / "dags" / name) << yaml;
    }
    void pool(const std::string& name, std::int64_t slots) {
        ASSERT_TRUE(store_->put_pool(store::Pool{name, slots, std::nullopt, false},
                                     store::PutMode::kUpsert));
    }
    void pump() {
        io_.restart();
        io_.poll();
    }
    // An engine on the test's database; several of them are several schedulers.
    Engine& start_engine(HeldRunner& runner, store::Store& store, bool sole = true,
                         std::optional<std::int64_t> default_pool_slots = std::nullopt) {
        folders_.push_back(std::make_unique<dag::DagFolder>(home_ / "dags", clock_));
        EngineOptions opts;
        opts.log_dir = home_ / "logs";
        opts.unpause_new_dags = true;
        opts.sole_scheduler = sole;
        opts.owner = "engine-" + std::to_string(engines_.size());
        opts.default_pool_slots = default_pool_slots;
        engines_.push_back(
            std::make_unique<Engine>(io_, store, *folders_.back(), runner, clock_, opts));
        auto started = engines_.back()->start();
        EXPECT_TRUE(started) << started.error().message;
        pump();
        return *engines_.back();
    }
    void trigger(Engine& engine, const std::string& dag_id, const std::string& run_id) {
        TriggerRequest req;
        req.dag_id = dag_id;
        req.run_id = run_id;
        auto r = engine.trigger(req);
        ASSERT_TRUE(r) << r.error().message;
        pump();
    }
    store::TaskInstance ti(const std::string& dag, const std::string& run,
                           const std::string& task) {
        auto got = store_->get_task_instance(dag, run, task);
        EXPECT_TRUE(got && *got);
        return got && *got ? **got : store::TaskInstance{};
    }
    RunState run_state(const std::string& dag, const std::string& run) {
        auto r = store_->get_run(dag, run);
        EXPECT_TRUE(r && *r);
        return r && *r ? (*r)->state : RunState::kQueued;
    }
    // Slots held in `pool` as the store sees them (every scheduler's).
    std::int64_t held(const std::string& pool_name) {
        auto usage = store_->pool_usage("");
        EXPECT_TRUE(usage);
        for (const auto& u : *usage) {
            if (u.pool == pool_name) return u.queued + u.running;
        }
        return 0;
    }

    fs::path home_;
    FakeClock clock_{1'700'000'000'000};
    boost::asio::io_context io_;
    std::unique_ptr<store::SqliteStore> store_;
    std::vector<std::unique_ptr<store::SqliteStore>> extra_stores_;
    std::vector<std::unique_ptr<dag::DagFolder>> folders_;
    std::vector<std::unique_ptr<Engine>> engines_;
};

TEST_F(PoolsEngineTest, TwoSlotsHoldFiveTasksOfTwoRunsToTwoAtATimeAndAllFinish) {
    pool("p", 2);
    write_dag("d.yaml", R"(
dag_id: d
default_args: {pool: p}
tasks:
  t1: {command: ["true"]}
  t2: {command: ["true"]}
  t3: {command: ["true"]}
)");
    write_dag("e.yaml", R"(
dag_id: e
tasks:
  u1: {command: ["true"], pool: p}
  u2: {command: ["true"], pool: p}
)");
    HeldRunner runner;
    Engine& engine = start_engine(runner, *store_);
    trigger(engine, "d", "r1");
    trigger(engine, "e", "r1");
    EXPECT_EQ(runner.open(), 2);
    EXPECT_EQ(held("p"), 2);
    int waiting = 0;
    for (const auto& [dag, task] : std::vector<std::pair<std::string, std::string>>{
             {"d", "t1"}, {"d", "t2"}, {"d", "t3"}, {"e", "u1"}, {"e", "u2"}}) {
        waiting += ti(dag, "r1", task).state == TaskState::kScheduled ? 1 : 0;
    }
    EXPECT_EQ(waiting, 3);  // the others wait in `scheduled`
    int most = 0;
    while (runner.end_oldest()) {
        pump();
        most = std::max(most, runner.open());
        EXPECT_LE(held("p"), 2);
    }
    EXPECT_EQ(most, 2);
    EXPECT_EQ(runner.tries.size(), 5u);
    EXPECT_EQ(run_state("d", "r1"), RunState::kSuccess);
    EXPECT_EQ(run_state("e", "r1"), RunState::kSuccess);
    EXPECT_EQ(ti("d", "r1", "t3").pool, "p");
    EXPECT_EQ(held("p"), 0);
}

TEST_F(PoolsEngineTest, AFullPoolBlocksNeitherOtherPoolsNorTheDefaultPool) {
    pool("p", 1);
    pool("q", 1);
    write_dag("d.yaml", R"(
dag_id: d
tasks:
  a: {command: ["true"], pool: p}
  b: {command: ["true"], pool: p}
  c: {command: ["true"], pool: q}
  d: {command: ["true"]}
)");
    HeldRunner runner;
    Engine& engine = start_engine(runner, *store_);
    trigger(engine, "d", "r1");
    EXPECT_EQ(runner.open_ids(), (std::vector<std::string>{"a", "c", "d"}));
    EXPECT_EQ(ti("d", "r1", "b").state, TaskState::kScheduled);
    auto views = engine.inspect();
    ASSERT_EQ(views.size(), 1u);
    EXPECT_TRUE(views[0].waits_for_pool);
    runner.end_oldest();  // a ends: b takes its slot at once, no housekeeping needed
    pump();
    EXPECT_EQ(runner.open_ids(), (std::vector<std::string>{"c", "d", "b"}));
    while (runner.end_oldest()) pump();
    EXPECT_EQ(run_state("d", "r1"), RunState::kSuccess);
}

TEST_F(PoolsEngineTest, MaxActiveTasksStillHoldsInsideAPool) {
    pool("p", 5);
    write_dag("d.yaml", R"(
dag_id: d
max_active_tasks: 1
tasks:
  a: {command: ["true"], pool: p}
  b: {command: ["true"], pool: p}
)");
    HeldRunner runner;
    Engine& engine = start_engine(runner, *store_);
    trigger(engine, "d", "r1");
    EXPECT_EQ(runner.open(), 1);
    EXPECT_EQ(ti("d", "r1", "b").state, TaskState::kNone);  // waits for the DAG, not the pool
    runner.end_oldest();
    pump();
    EXPECT_EQ(runner.open_ids(), std::vector<std::string>{"b"});
}

TEST_F(PoolsEngineTest, AnUnknownPoolOrTooManySlotsFailTheTryNamingThePool) {
    pool("p", 2);
    write_dag("d.yaml", R"(
dag_id: d
tasks:
  lost: {command: ["true"], pool: nope}
  big: {command: ["true"], pool: p, pool_slots: 3}
  fine: {command: ["true"], pool: p, pool_slots: 2}
)");
    HeldRunner runner;
    Engine& engine = start_engine(runner, *store_);
    trigger(engine, "d", "r1");
    EXPECT_EQ(runner.open_ids(), std::vector<std::string>{"fine"});
    EXPECT_EQ(ti("d", "r1", "lost").state, TaskState::kFailed);
    EXPECT_EQ(ti("d", "r1", "big").state, TaskState::kFailed);
    auto lost = store_->tries("d", "r1", "lost");
    ASSERT_TRUE(lost);
    ASSERT_EQ(lost->size(), 1u);
    EXPECT_NE((*lost)[0].error.find("pool 'nope' does not exist"), std::string::npos)
        << (*lost)[0].error;
    auto big = store_->tries("d", "r1", "big");
    ASSERT_TRUE(big);
    ASSERT_EQ(big->size(), 1u);
    EXPECT_NE((*big)[0].error.find("needs 3 slots of pool 'p', which has only 2"),
              std::string::npos)
        << (*big)[0].error;
    runner.end_oldest();
    pump();
    EXPECT_EQ(run_state("d", "r1"), RunState::kFailed);  // a defined end, nothing stuck
    EXPECT_EQ(engine.active_runs(), 0u);
}

TEST_F(PoolsEngineTest, APoolCreatedOrMadeLargerIsSeenWithoutARestart) {
    pool("p", 1);
    write_dag("d.yaml", R"(
dag_id: d
tasks:
  a: {command: ["true"], pool: p}
  b: {command: ["true"], pool: p}
  c: {command: ["true"], pool: later, upstream: [a]}
)");
    HeldRunner runner;
    Engine& engine = start_engine(runner, *store_, true, 3);
    EXPECT_EQ(store_->get_pool("default_pool").value()->slots, 3);  // the configured size
    trigger(engine, "d", "r1");
    EXPECT_EQ(runner.open_ids(), std::vector<std::string>{"a"});
    pool("p", 2);
    pool("later", 1);
    engine.housekeeping();  // reads the pools again and wakes the waiters
    pump();
    EXPECT_EQ(runner.open_ids(), (std::vector<std::string>{"a", "b"}));
    runner.end_oldest();
    pump();
    EXPECT_EQ(runner.open_ids(), (std::vector<std::string>{"b", "c"}));
}

TEST_F(PoolsEngineTest, TwoSchedulersShareOnePool) {
    pool("p", 2);
    write_dag("d.yaml", R"(
dag_id: d
tasks:
  a: {command: ["true"], pool: p}
  b: {command: ["true"], pool: p}
)");
    HeldRunner first_runner, second_runner;
    Engine& first = start_engine(first_runner, *store_, false);
    extra_stores_.push_back(open_store());
    Engine& second = start_engine(second_runner, *extra_stores_.back(), false);
    trigger(first, "d", "r1");
    EXPECT_EQ(first_runner.open(), 2);
    second.housekeeping();  // counts the first one's tries
    pump();
    trigger(second, "d", "r2");
    EXPECT_EQ(second_runner.open(), 0);
    EXPECT_EQ(ti("d", "r2", "a").state, TaskState::kScheduled);
    EXPECT_EQ(ti("d", "r2", "b").state, TaskState::kScheduled);
    first_runner.end_oldest();
    pump();
    EXPECT_EQ(second_runner.open(), 0);  // not seen before its next look at the store
    second.housekeeping();
    pump();
    EXPECT_EQ(second_runner.open(), 1);
    EXPECT_EQ(held("p"), 2);
    first_runner.end_oldest();
    pump();
    second.housekeeping();
    pump();
    EXPECT_EQ(second_runner.open(), 2);
    while (second_runner.end_oldest()) pump();
    EXPECT_EQ(run_state("d", "r1"), RunState::kSuccess);
    EXPECT_EQ(run_state("d", "r2"), RunState::kSuccess);
}

}  // namespace
}  // namespace orquestra::scheduler
