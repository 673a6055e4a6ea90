#include "store/pools.hpp"

#include "store/store.hpp"
#include "store_backends.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace orquestra::store {
namespace {

using testing::Backend;
using testing::BackendKind;
using testing::backend_name;
using testing::make_backend;

TEST(PoolRulesTest, SlotsAreWholeNumbersFromOneToAMillion) {
    EXPECT_EQ(parse_pool_slots("1").value(), 1);
    EXPECT_EQ(parse_pool_slots(" 1000000 ").value(), 1'000'000);
    for (const char* bad : {"0", "-1", "1000001", "ten", "1.5", "", "99999999999999999999"}) {
        auto n = parse_pool_slots(bad);
        ASSERT_FALSE(n) << bad;
        EXPECT_EQ(n.error().code, ErrorCode::kInvalidArgument);
        EXPECT_NE(n.error().message.find("from 1 to 1000000"), std::string::npos)
            << n.error().message;
    }
    EXPECT_TRUE(check_pool_slots(0).has_value());
    EXPECT_FALSE(check_pool_slots(5).has_value());
}

TEST(PoolRulesTest, NamesAreIdsAndDescriptionsAreBounded) {
    Pool p{"etl.heavy-1", 3, std::nullopt, false};
    EXPECT_FALSE(check_pool(p));
    for (const char* bad : {"", "has space", "a/b", "ação"}) {
        p.name = bad;
        auto e = check_pool(p);
        ASSERT_TRUE(e) << bad;
        EXPECT_NE(e->message.find("pool name"), std::string::npos);
    }
    p.name = std::string(251, 'a');
    EXPECT_TRUE(check_pool(p));
    p.name = "ok";
    p.description = std::string(kMaxPoolDescription + 1, 'x');
    EXPECT_TRUE(check_pool(p));
}

class PoolsStoreTest : public ::testing::TestWithParam<BackendKind> {
protected:
    void SetUp() override {
        backend_ = make_backend(GetParam());
        auto opened = backend_->open();
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
        auto migrated = store_->migrate();
        ASSERT_TRUE(migrated) << migrated.error().message;
    }

    std::unique_ptr<Backend> backend_;
    std::unique_ptr<Store> store_;
};

std::string kind_name(const ::testing::TestParamInfo<BackendKind>& info) {
    return backend_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, PoolsStoreTest, ::testing::Values(BackendKind::kSqlite),
                         kind_name);
INSTANTIATE_TEST_SUITE_P(Postgres, PoolsStoreTest, ::testing::Values(BackendKind::kPostgres),
                         kind_name);

TEST_P(PoolsStoreTest, DefaultPoolExistsWith128SlotsAndCannotBeDeleted) {
    auto got = store_->get_pool("default_pool");
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((*got)->slots, 128);
    EXPECT_FALSE((*got)->include_deferred);
    auto deleted = store_->delete_pool("default_pool");
    ASSERT_FALSE(deleted);
    EXPECT_EQ(deleted.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(deleted.error().message.find("cannot be deleted"), std::string::npos);
    // Migrating again keeps it as it is.
    ASSERT_TRUE(store_->put_pool(Pool{"default_pool", 7, std::nullopt, false}, PutMode::kUpdate));
    ASSERT_TRUE(store_->migrate());
    EXPECT_EQ(store_->get_pool("default_pool").value()->slots, 7);
}

TEST_P(PoolsStoreTest, PoolsFollowThePutModesAndAreListedByNameInPages) {
    Pool p{"heavy", 2, std::string("big jobs"), false};
    ASSERT_TRUE(store_->put_pool(p, PutMode::kCreate));
    auto again = store_->put_pool(p, PutMode::kCreate);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::kConflict);
    auto missing = store_->put_pool(Pool{"nope", 1, {}, false}, PutMode::kUpdate);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    p.slots = 5;
    p.description.reset();
    p.include_deferred = true;
    ASSERT_TRUE(store_->put_pool(p, PutMode::kUpdate));
    ASSERT_TRUE(store_->put_pool(Pool{"api", 1, {}, false}, PutMode::kUpsert));
    auto got = store_->get_pool("heavy");
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((*got)->slots, 5);
    EXPECT_FALSE((*got)->description);
    EXPECT_TRUE((*got)->include_deferred);

    auto page = store_->list_pools(2, 0);
    ASSERT_TRUE(page) << page.error().message;
    EXPECT_EQ(page->total, 3);
    ASSERT_EQ(page->items.size(), 2u);
    EXPECT_EQ(page->items[0].name, "api");
    EXPECT_EQ(page->items[1].name, "default_pool");
    auto rest = store_->list_pools(2, 2);
    ASSERT_TRUE(rest);
    ASSERT_EQ(rest->items.size(), 1u);
    EXPECT_EQ(rest->items[0].name, "heavy");
    EXPECT_FALSE(store_->list_pools(1001, 0));

    ASSERT_TRUE(store_->delete_pool("heavy"));
    auto gone = store_->delete_pool("heavy");
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
    EXPECT_FALSE(store_->get_pool("heavy").value());
}

TEST_P(PoolsStoreTest, TaskInstancesKeepTheirPoolAndSlots) {
    DagRun run;
    run.dag_id = "d";
    run.run_id = "r";
    run.logical_date = 1;
    run.queued_at = 1;
    TaskInstance a;
    a.task_id = "a";
    a.pool = "heavy";
    a.pool_slots = 3;
    TaskInstance b;
    b.task_id = "b";  // default_pool, 1 slot
    ASSERT_TRUE(store_->create_run(run, {a, b}));
    auto got = store_->task_instances("d", "r");
    ASSERT_TRUE(got);
    ASSERT_EQ(got->size(), 2u);
    EXPECT_EQ((*got)[0].pool, "heavy");
    EXPECT_EQ((*got)[0].pool_slots, 3);
    EXPECT_EQ((*got)[1].pool, "default_pool");
    EXPECT_EQ((*got)[1].pool_slots, 1);
    Changes changes;
    auto moved = (*got)[1];
    moved.pool = "api";
    moved.pool_slots = 2;
    changes.tasks.push_back(moved);
    ASSERT_TRUE(store_->commit(changes));
    auto one = store_->get_task_instance("d", "r", "b");
    ASSERT_TRUE(one && *one);
    EXPECT_EQ((*one)->pool, "api");
    EXPECT_EQ((*one)->pool_slots, 2);
}

TEST_P(PoolsStoreTest, UsageAddsUpSlotsByPoolAndStateLeavingOutAnOwner) {
    DagRun run;
    run.dag_id = "d";
    run.run_id = "r";
    run.logical_date = 1;
    run.queued_at = 1;
    std::vector<TaskInstance> tis;
    auto add = [&](std::string id, std::string pool, int slots, TaskState state,
                   std::string owner) {
        TaskInstance t;
        t.task_id = std::move(id);
        t.pool = std::move(pool);
        t.pool_slots = slots;
        t.state = state;
        t.owner = std::move(owner);
        tis.push_back(std::move(t));
    };
    add("r1", "heavy", 2, TaskState::kRunning, "s1");
    add("r2", "heavy", 3, TaskState::kRunning, "s2");
    add("q1", "heavy", 1, TaskState::kQueued, "s1");
    add("w1", "heavy", 4, TaskState::kScheduled, "");
    add("done", "heavy", 5, TaskState::kSuccess, "s1");
    add("failed", "heavy", 5, TaskState::kFailed, "s2");
    add("r3", "default_pool", 1, TaskState::kRunning, "s2");
    add("none", "default_pool", 1, TaskState::kNone, "");
    ASSERT_TRUE(store_->create_run(run, tis));

    auto all = store_->pool_usage("");
    ASSERT_TRUE(all) << all.error().message;
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].pool, "default_pool");
    EXPECT_EQ((*all)[0].running, 1);
    EXPECT_EQ((*all)[0].queued, 0);
    EXPECT_EQ((*all)[1].pool, "heavy");
    EXPECT_EQ((*all)[1].running, 5);
    EXPECT_EQ((*all)[1].queued, 1);
    EXPECT_EQ((*all)[1].scheduled, 4);

    auto others = store_->pool_usage("s1");
    ASSERT_TRUE(others);
    ASSERT_EQ(others->size(), 2u);
    EXPECT_EQ((*others)[1].pool, "heavy");
    EXPECT_EQ((*others)[1].running, 3);
    EXPECT_EQ((*others)[1].queued, 0);
    EXPECT_EQ((*others)[1].scheduled, 4);
}

}  // namespace
}  // namespace orquestra::store
