// Mapped task instances in both stores (migration 10): map_index in the key of task instances
// and tries, the placeholder's removal, listMapped's filter and orders.
#include "store/store.hpp"

#include "store_backends.hpp"

#include <gtest/gtest.h>

namespace orquestra::store {
namespace {

using testing::BackendKind;
using testing::backend_name;
using testing::make_backend;

constexpr Millis kT0 = 1'700'000'000'000;

class MappedStoreTest : public ::testing::TestWithParam<BackendKind> {
protected:
    void SetUp() override {
        backend_ = make_backend(GetParam());
        auto opened = backend_->open();
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
        auto migrated = store_->migrate();
        ASSERT_TRUE(migrated) << migrated.error().message;
        DagRun run;
        run.dag_id = "d";
        run.run_id = "r";
        run.logical_date = kT0;
        run.queued_at = kT0;
        TaskInstance placeholder = instance(-1);
        auto created = store_->create_run(run, {placeholder, other()});
        ASSERT_TRUE(created) << created.error().message;
    }
    static TaskInstance instance(int map_index, TaskState state = TaskState::kNone) {
        TaskInstance t;
        t.dag_id = "d";
        t.run_id = "r";
        t.task_id = "each";
        t.map_index = map_index;
        t.state = state;
        return t;
    }
    static TaskInstance other() {
        TaskInstance t = instance(-1);
        t.task_id = "after";
        return t;
    }
    static TaskTry attempt(int map_index, int try_number, std::string error) {
        TaskTry t;
        t.dag_id = "d";
        t.run_id = "r";
        t.task_id = "each";
        t.map_index = map_index;
        t.try_number = try_number;
        t.state = TaskState::kFailed;
        t.start_date = kT0 + try_number;
        t.error = std::move(error);
        return t;
    }
    // The placeholder replaced by n instances, instance i in `states[i]`, started at kT0 + i.
    void expand(const std::vector<TaskState>& states) {
        Changes c;
        c.removed_tasks.push_back(instance(-1));
        for (std::size_t i = 0; i < states.size(); ++i) {
            TaskInstance t = instance(static_cast<int>(i), states[i]);
            t.start_date = kT0 + static_cast<Millis>(states.size() - i);
            t.try_number = 1;
            c.tasks.push_back(t);
            c.tries.push_back(attempt(static_cast<int>(i), 1, "try of " + std::to_string(i)));
        }
        auto committed = store_->commit(c);
        ASSERT_TRUE(committed) << committed.error().message;
    }
    std::vector<int> indexes(const TaskFilter& f) {
        auto page = store_->list_task_instances(f);
        EXPECT_TRUE(page) << page.error().message;
        std::vector<int> out;
        if (page) {
            for (const auto& t : page->items) out.push_back(t.map_index);
        }
        return out;
    }

    std::unique_ptr<testing::Backend> backend_;
    std::unique_ptr<Store> store_;
};

std::string kind_name(const ::testing::TestParamInfo<BackendKind>& info) {
    return backend_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, MappedStoreTest, ::testing::Values(BackendKind::kSqlite),
                         kind_name);
INSTANTIATE_TEST_SUITE_P(Postgres, MappedStoreTest, ::testing::Values(BackendKind::kPostgres),
                         kind_name);

TEST_P(MappedStoreTest, InstancesReplaceThePlaceholderAndKeepTheirOwnTries) {
    ASSERT_TRUE(store_->get_task_instance("d", "r", "each").value().has_value());
    expand({TaskState::kSuccess, TaskState::kFailed, TaskState::kRunning});
    EXPECT_FALSE(store_->get_task_instance("d", "r", "each").value().has_value());
    auto second = store_->get_task_instance("d", "r", "each", 1).value();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->map_index, 1);
    EXPECT_EQ(second->state, TaskState::kFailed);
    auto tries = store_->tries("d", "r", "each", 2).value();
    ASSERT_EQ(tries.size(), 1u);
    EXPECT_EQ(tries[0].map_index, 2);
    EXPECT_EQ(tries[0].error, "try of 2");
    EXPECT_TRUE(store_->tries("d", "r", "each").value().empty());
    // Ordered by task_id, then map_index.
    auto all = store_->task_instances("d", "r").value();
    ASSERT_EQ(all.size(), 4u);
    EXPECT_EQ(all[0].task_id, "after");
    EXPECT_EQ(all[1].map_index, 0);
    EXPECT_EQ(all[3].map_index, 2);
    // The same try number of two instances are two tries.
    Changes c;
    c.tries.push_back(attempt(0, 2, "second of 0"));
    c.tries.push_back(attempt(1, 2, "second of 1"));
    ASSERT_TRUE(store_->commit(c));
    EXPECT_EQ(store_->tries("d", "r", "each", 0).value().back().error, "second of 0");
    EXPECT_EQ(store_->tries("d", "r", "each", 1).value().back().error, "second of 1");
    // Deleting the run takes every instance and try with it.
    ASSERT_TRUE(store_->delete_run("d", "r"));
    EXPECT_EQ(backend_->integer("SELECT COUNT(*) FROM task_tries"), 0);
    EXPECT_EQ(backend_->integer("SELECT COUNT(*) FROM task_instances"), 0);
}

TEST_P(MappedStoreTest, MappedOnlyFiltersOrdersAndPages) {
    expand({TaskState::kSuccess, TaskState::kFailed, TaskState::kSuccess, TaskState::kRunning});
    TaskFilter f;
    f.dag_id = "d";
    f.run_id = "r";
    f.task_ids = {"each"};
    f.mapped_only = true;
    EXPECT_EQ(indexes(f), (std::vector<int>{0, 1, 2, 3}));
    f.order_by = "-map_index";
    EXPECT_EQ(indexes(f), (std::vector<int>{3, 2, 1, 0}));
    f.order_by = "start_date";  // instance i started at kT0 + (4 - i)
    EXPECT_EQ(indexes(f), (std::vector<int>{3, 2, 1, 0}));
    f.order_by = "state";  // failed, running, success, success (ties by map_index)
    EXPECT_EQ(indexes(f), (std::vector<int>{1, 3, 0, 2}));
    f.order_by = "";
    f.states = {TaskState::kSuccess};
    f.limit = 1;
    f.offset = 1;
    auto page = store_->list_task_instances(f);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->total, 2);
    ASSERT_EQ(page->items.size(), 1u);
    EXPECT_EQ(page->items[0].map_index, 2);
    f.order_by = "duration; DROP TABLE x";
    auto bad = store_->list_task_instances(f);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(bad.error().message.find("map_index, state"), std::string::npos);
    // Without mapped_only, the unmapped task is listed too.
    TaskFilter every;
    every.dag_id = "d";
    EXPECT_EQ(indexes(every), (std::vector<int>{-1, 0, 1, 2, 3}));
}

}  // namespace
}  // namespace orquestra::store
