// Several schedulers on one database: heartbeats and run claims (store.hpp), with SQLite and
// several connections to one file, claiming from several threads at once.

#include "store/sqlite_store.hpp"
#include "temp_database.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace orquestra::store {
namespace {

using testing::TempDir;

class SchedulerClaimsTest : public ::testing::Test {
protected:
    std::unique_ptr<SqliteStore> open() {
        auto s = SqliteStore::open(dir_.path() / "orquestra.db");
        EXPECT_TRUE(s) << s.error().message;
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

    TempDir dir_;
};

TEST_F(SchedulerClaimsTest, UnownedRunsGoToOneClaimerInBatches) {
    auto store = open();
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

TEST_F(SchedulerClaimsTest, ADeadSchedulersRowGoesAndItsRunsAreClaimedOnce) {
    auto store = open();
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

TEST_F(SchedulerClaimsTest, ASoleSchedulerTakesOtherSchedulersRunsButNotATestsRuns) {
    auto store = open();
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

TEST_F(SchedulerClaimsTest, ConcurrentClaimersNeverShareARun) {
    {
        auto store = open();
        add_runs(*store, 400);
    }
    constexpr int kClaimers = 4;
    std::vector<std::unique_ptr<SqliteStore>> stores;
    for (int i = 0; i < kClaimers; ++i) {
        stores.push_back(open());
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
