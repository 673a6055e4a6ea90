// Several schedulers on one database: heartbeats and run claims (store.hpp), on SQLite (several
// connections to one file) and on PostgreSQL (several stores on one database), claiming from
// several threads at once.

#include "store/store.hpp"

#include "store_backends.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace orquestra::store {
namespace {

using testing::BackendKind;

class SchedulerClaimsTest : public ::testing::TestWithParam<BackendKind> {
protected:
    // Another store on the test's database (each one has connections of its own).
    std::unique_ptr<Store> open() {
        auto s = backend_->open();
        if (!s) {
            ADD_FAILURE() << s.error().message;
            return nullptr;
        }
        EXPECT_TRUE((*s)->migrate());
        return std::move(*s);
    }
    static SchedulerProcess process(const std::string& id, Millis at,
                                    const std::string& kind = "scheduler") {
        SchedulerProcess p;
        p.id = id;
        p.kind = kind;
        p.hostname = "host";
        p.pid = 42;
        p.started_at = p.heartbeat_at = at;
        return p;
    }
    static void add_runs(Store& store, int n, const std::string& owner = "") {
        for (int i = 0; i < n; ++i) {
            DagRun run;
            run.dag_id = "d";
            run.run_id = "r" + std::to_string(i);
            run.owner = owner;
            ASSERT_TRUE(store.create_run(run, {}));
        }
    }
    static ClaimRequest claim(const std::string& owner, Millis dead_before, int limit = 1000) {
        ClaimRequest c;
        c.owner = owner;
        c.dead_before = dead_before;
        c.limit = limit;
        return c;
    }

    std::unique_ptr<testing::Backend> backend_ = testing::make_backend(GetParam());
};

std::string kind_name(const ::testing::TestParamInfo<BackendKind>& info) {
    return testing::backend_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, SchedulerClaimsTest, ::testing::Values(BackendKind::kSqlite),
                         kind_name);
INSTANTIATE_TEST_SUITE_P(Postgres, SchedulerClaimsTest,
                         ::testing::Values(BackendKind::kPostgres), kind_name);

TEST_P(SchedulerClaimsTest, UnownedRunsGoToOneClaimerInBatches) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    add_runs(*store, 7);
    ASSERT_TRUE(store->heartbeat(process("a", 1000), true));
    auto first = store->claim_runs(claim("a", 0, 5));
    ASSERT_TRUE(first) << first.error().message;
    ASSERT_EQ(first->size(), 5u);
    EXPECT_EQ(first->front().run_id, "r0");  // oldest first
    EXPECT_EQ(first->front().owner, "a");
    auto second = store->claim_runs(claim("a", 0, 5));
    EXPECT_EQ(second->size(), 2u);
    EXPECT_TRUE(store->claim_runs(claim("b", 0))->empty());  // a lives: nothing for b
    EXPECT_EQ((*store->get_run("d", "r6"))->owner, "a");
}

TEST_P(SchedulerClaimsTest, ADeadSchedulersRowGoesAndItsRunsAreClaimedOnce) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    add_runs(*store, 3, "a");
    ASSERT_TRUE(store->heartbeat(process("a", 1000), true));
    ASSERT_TRUE(store->heartbeat(process("b", 5000), true));
    EXPECT_TRUE(store->claim_runs(claim("b", 1000))->empty());  // a's beat is not older
    auto taken = store->claim_runs(claim("b", 1001));
    ASSERT_EQ(taken->size(), 3u);
    auto processes = store->scheduler_processes();
    ASSERT_EQ(processes->size(), 1u);
    EXPECT_EQ(processes->front().id, "b");
    // a comes back: its row is gone, so its heartbeat says so.
    SchedulerProcess a = process("a", 6000);
    auto beat = store->heartbeat(a, false);
    ASSERT_FALSE(beat);
    EXPECT_EQ(beat.error().code, ErrorCode::kNotFound);
    ASSERT_TRUE(store->heartbeat(process("b", 6000), false));
}

TEST_P(SchedulerClaimsTest, ASoleSchedulerTakesOtherSchedulersRunsButNotATestsRuns) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    add_runs(*store, 2, "old");
    DagRun test_run;
    test_run.dag_id = "d";
    test_run.run_id = "test";
    test_run.owner = "dags-test";
    ASSERT_TRUE(store->create_run(test_run, {}));
    ASSERT_TRUE(store->heartbeat(process("old", 1000), true));
    ASSERT_TRUE(store->heartbeat(process("dags-test", 1000, "test"), true));
    ClaimRequest c = claim("new", 0);
    c.other_schedulers_dead = true;
    auto taken = store->claim_runs(c);
    ASSERT_EQ(taken->size(), 2u);
    std::set<std::string> ids;
    for (const auto& r : *taken) ids.insert(r.run_id);
    EXPECT_EQ(ids, (std::set<std::string>{"r0", "r1"}));
    EXPECT_EQ((*store->get_run("d", "test"))->owner, "dags-test");
}

TEST_P(SchedulerClaimsTest, ConcurrentClaimersNeverShareARun) {
    {
        auto store = open();
    ASSERT_NE(store, nullptr);
        add_runs(*store, 400);
    }
    constexpr int kClaimers = 4;
    std::vector<std::unique_ptr<Store>> stores;
    for (int i = 0; i < kClaimers; ++i) {
        stores.push_back(open());
        ASSERT_NE(stores.back(), nullptr);
        ASSERT_TRUE(stores.back()->heartbeat(process("s" + std::to_string(i), 1000), true));
    }
    std::vector<std::vector<std::string>> got(kClaimers);
    std::vector<std::thread> threads;
    for (int i = 0; i < kClaimers; ++i) {
        threads.emplace_back([&, i] {
            for (;;) {
                auto runs = stores[i]->claim_runs(claim("s" + std::to_string(i), 0, 7));
                ASSERT_TRUE(runs) << runs.error().message;
                if (runs->empty()) return;
                for (const auto& r : *runs) got[i].push_back(r.run_id);
            }
        });
    }
    for (auto& t : threads) t.join();
    std::map<std::string, int> seen;
    for (int i = 0; i < kClaimers; ++i) {
        for (const auto& id : got[i]) {
            ++seen[id];
            EXPECT_EQ((*stores[0]->get_run("d", id))->owner, "s" + std::to_string(i));
        }
    }
    EXPECT_EQ(seen.size(), 400u);
    for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
}

}  // namespace
}  // namespace orquestra::store
