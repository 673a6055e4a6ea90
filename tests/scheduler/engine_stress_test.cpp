// A randomized stress test of the scheduler: random DAG shapes, trigger rules, retries and
// limits; concurrent triggers, try outcomes, clock jumps, pauses, clears and marks, with a
// FakeClock. After every step, every run that can still move must have something that will
// move it (a try queued or running, an armed timer, or a slot held by a try of its DAG), the
// limits must hold, and every try the engine believes busy must be one the runner holds. At
// the end every run must finish.

#include "scheduler/decide.hpp"
#include "scheduler/engine.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <set>

namespace orquestra::scheduler {
namespace {

namespace fs = std::filesystem;
using store::RunState;
using store::TaskState;

struct HeldTry {
    executor::Attempt attempt;
    std::function<void(executor::AttemptResult)> done;
};

class HoldingRunner final : public executor::TaskRunner {
public:
    void run(executor::Attempt attempt, std::function<void(executor::AttemptResult)> done) override {
        held.push_back({std::move(attempt), std::move(done)});
    }
    std::vector<HeldTry> held;  // not yet started (commands) or not yet ended
};

constexpr std::array<const char*, 8> kRules = {"all_success", "all_failed", "all_done",
                                               "one_success", "one_failed", "none_failed",
                                               "none_skipped", "always"};

std::string random_dag(std::mt19937& rng, const std::string& dag_id) {
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    std::string y = fmt::format(
        "dag_id: {}\nmax_active_runs: {}\nmax_active_tasks: {}\n"
        "default_args: {{retries: {}, retry_delay: {}s}}\ntasks:\n",
        dag_id, 1 + pick(3), 1 + pick(3), pick(3), 1 + pick(3));
    const int n = 1 + pick(6);
    for (int i = 0; i < n; ++i) {
        std::vector<std::string> up;
        for (int j = 0; j < i; ++j) {
            if (pick(3) == 0) up.push_back(fmt::format("t{}", j));
        }
        std::string kind = pick(2) == 0 ? R"(command: ["true"])"
                                        : R"(http: {service: svc, path: /x})";
        y += fmt::format("  t{}: {{{}", i, kind);
        if (!up.empty()) y += fmt::format(", upstream: [{}]", fmt::join(up, ", "));
        if (pick(3) == 0) y += fmt::format(", trigger_rule: {}", kRules[pick(kRules.size())]);
        y += "}\n";
    }
    return y;
}

class EngineStressTest : public ::testing::TestWithParam<unsigned> {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() / ("orquestra-stress-" + std::to_string(rd()));
        fs::create_directories(home_ / "dags");
        auto s = store::SqliteStore::open(home_ / "orquestra.db");
        ASSERT_TRUE(s) << s.error().message;
        store_ = std::move(*s);
        ASSERT_TRUE(store_->migrate());
    }
    void TearDown() override {
        engine_.reset();
        folder_.reset();
        store_.reset();
        fs::remove_all(home_);
    }
    void pump() {
        io_.restart();
        io_.poll();
    }

    // What the wake timer would do: fire once the clock reaches its deadline.
    void advance(Millis ms) {
        clock_.advance(ms);
        if (auto at = engine_->wake_deadline(); at && *at <= clock_.now_ms()) {
            engine_->fire_timers();
        }
        pump();
    }

    void end_try(std::size_t index, bool success) {
        HeldTry t = std::move(runner_.held[index]);
        runner_.held.erase(runner_.held.begin() + static_cast<std::ptrdiff_t>(index));
        if (t.attempt.on_started) t.attempt.on_started({0, ""});
        executor::AttemptResult r;
        r.success = success;
        if (!success) r.error = "boom";
        t.done(std::move(r));
        pump();
    }

    // A command's process starts, without ending yet.
    void start_command(std::size_t index) {
        auto& t = runner_.held[index];
        if (t.attempt.on_started) {
            t.attempt.on_started({0, ""});
            t.attempt.on_started = nullptr;
        }
        pump();
    }

    std::vector<store::DagRun> finished_runs() {
        store::RunFilter f;
        f.states = {RunState::kSuccess, RunState::kFailed};
        f.limit = 1000;
        auto page = store_->list_runs(f);
        EXPECT_TRUE(page);
        return page ? page->items : std::vector<store::DagRun>{};
    }

    // The API's clear of a finished run.
    void clear_run(const store::DagRun& r) {
        auto cleared = engine_->clear_run(r.dag_id, r.run_id, false);
        ASSERT_TRUE(cleared) << cleared.error().message;
        pump();
    }

    // The API's mark of one task of a finished run as success (failed tasks below it are
    // cleared).
    void mark_success(const store::DagRun& r, std::mt19937& rng) {
        auto d = engine_->find_dag(r.dag_id);
        ASSERT_TRUE(d);
        scheduler::MarkRequest mark;
        mark.dag_id = r.dag_id;
        mark.run.run_id = r.run_id;
        mark.task_id = d->tasks[rng() % d->tasks.size()].task_id;
        mark.new_state = TaskState::kSuccess;
        mark.dry_run = false;
        auto marked = engine_->mark_tasks(mark);
        ASSERT_TRUE(marked) << marked.error().message;
        pump();
    }

    void check_invariants(const std::string& step) {
        auto views = engine_->inspect();
        std::map<std::string, int> busy_by_dag, running_by_dag;
        std::set<std::tuple<std::string, std::string, std::string, int>> held;
        for (const auto& t : runner_.held) {
            held.emplace(t.attempt.dag_id, t.attempt.run_id, t.attempt.task_id,
                         t.attempt.try_number);
        }
        for (const auto& v : views) {
            if (v.run.state == RunState::kRunning) ++running_by_dag[v.run.dag_id];
            for (const auto& ti : v.tis) {
                if (ti.state != TaskState::kQueued && ti.state != TaskState::kRunning) continue;
                ++busy_by_dag[v.run.dag_id];
                EXPECT_TRUE(held.contains({ti.dag_id, ti.run_id, ti.task_id, ti.try_number}))
                    << step << ": " << ti.run_id << "/" << ti.task_id << " is "
                    << store::to_string(ti.state) << " but no runner holds its try";
            }
        }
        EXPECT_EQ(held.size(),
                  [&] {
                      std::size_t n = 0;
                      for (auto& [d, c] : busy_by_dag) n += static_cast<std::size_t>(c);
                      return n;
                  }())
            << step << ": the runner holds tries the engine does not count";
        const auto deadline = engine_->wake_deadline();
        for (const auto& v : views) {
            const auto d = engine_->find_dag(v.run.dag_id);
            ASSERT_NE(d, nullptr) << step;
            EXPECT_LE(running_by_dag[v.run.dag_id], d->max_active_runs) << step;
            EXPECT_LE(busy_by_dag[v.run.dag_id], d->max_active_tasks) << step;
            const std::string what = step + ": run " + v.run.run_id + " of " + v.run.dag_id;
            if (v.run.state == RunState::kQueued) {
                const bool paused = store_->get_dag(v.run.dag_id).value()->is_paused;
                EXPECT_TRUE(paused || running_by_dag[v.run.dag_id] >= d->max_active_runs)
                    << what << " is queued with a free run slot and nothing to start it";
                continue;
            }
            ASSERT_EQ(v.run.state, RunState::kRunning) << what;
            bool busy = false;
            for (const auto& ti : v.tis) {
                busy = busy || ti.state == TaskState::kQueued || ti.state == TaskState::kRunning;
            }
            if (busy) continue;
            if (v.wake_at) {
                EXPECT_TRUE(deadline && *deadline <= *v.wake_at)
                    << what << " waits for a retry at " << *v.wake_at << " but the timer is "
                    << (deadline ? std::to_string(*deadline) : "unset");
                continue;
            }
            EXPECT_TRUE(v.waits_for_slot && busy_by_dag[v.run.dag_id] > 0)
                << what << " can move but nothing will move it";
        }
    }

    fs::path home_;
    FakeClock clock_{1'700'000'000'000};
    boost::asio::io_context io_;
    std::unique_ptr<store::SqliteStore> store_;
    std::unique_ptr<dag::DagFolder> folder_;
    HoldingRunner runner_;
    std::unique_ptr<Engine> engine_;
};

TEST_P(EngineStressTest, EveryRunKeepsMovingAndEnds) {
    std::mt19937 rng(GetParam());
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    const int dags = 1 + static_cast<int>(pick(3));
    for (int i = 0; i < dags; ++i) {
        const std::string id = fmt::format("d{}", i);
        std::ofstream(home_ / "dags" / (id + ".yaml")) << random_dag(rng, id);
    }
    folder_ = std::make_unique<dag::DagFolder>(home_ / "dags", clock_);
    EngineOptions opts;
    opts.unpause_new_dags = true;
    engine_ = std::make_unique<Engine>(io_, *store_, *folder_, runner_, clock_, opts);
    ASSERT_TRUE(engine_->start());
    pump();
    int triggered = 0;
    for (int step = 0; step < 300; ++step) {
        const auto action = pick(100);
        const std::string what = fmt::format("seed {} step {}", GetParam(), step);
        if (action < 25) {
            // Several triggers before the loop turns.
            const auto n = 1 + pick(3);
            for (std::size_t k = 0; k < n; ++k) {
                TriggerRequest req;
                req.dag_id = fmt::format("d{}", pick(static_cast<std::size_t>(dags)));
                req.run_id = fmt::format("r{}", triggered++);
                ASSERT_TRUE(engine_->trigger(req)) << what;
            }
            pump();
        } else if (action < 60) {
            if (!runner_.held.empty()) end_try(pick(runner_.held.size()), pick(10) < 7);
        } else if (action < 65) {
            if (!runner_.held.empty()) start_command(pick(runner_.held.size()));
        } else if (action < 78) {
            advance(static_cast<Millis>(pick(3000)));
        } else if (action < 86) {
            auto done = finished_runs();
            if (!done.empty()) clear_run(done[pick(done.size())]);
        } else if (action < 92) {
            auto done = finished_runs();
            if (!done.empty()) mark_success(done[pick(done.size())], rng);
        } else {
            const std::string id = fmt::format("d{}", pick(static_cast<std::size_t>(dags)));
            ASSERT_TRUE(engine_->set_paused(id, pick(2) == 0));
            pump();
        }
        check_invariants(what);
        if (HasFailure()) return;
    }
    for (int i = 0; i < dags; ++i) ASSERT_TRUE(engine_->set_paused(fmt::format("d{}", i), false));
    pump();
    for (int round = 0; round < 10'000 && engine_->active_runs() > 0; ++round) {
        if (!runner_.held.empty()) {
            end_try(0, true);
        } else {
            auto at = engine_->wake_deadline();
            ASSERT_TRUE(at.has_value()) << "runs remain but nothing will move them";
            advance(std::max<Millis>(0, *at - clock_.now_ms()));
        }
        check_invariants(fmt::format("seed {} drain {}", GetParam(), round));
        if (HasFailure()) return;
    }
    EXPECT_EQ(engine_->active_runs(), 0u);
    EXPECT_TRUE(store_->unfinished_runs().value().empty());
}

INSTANTIATE_TEST_SUITE_P(Seeds, EngineStressTest, ::testing::Range(1u, 25u));

}  // namespace
}  // namespace orquestra::scheduler
