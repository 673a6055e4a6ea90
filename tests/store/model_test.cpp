#include "store/model.hpp"

#include <gtest/gtest.h>

#include <string_view>
#include <utility>
#include <vector>

namespace orquestra::store {
namespace {

TEST(StoreModelTest, RunStateNamesAreAirflows) {
    const std::vector<std::pair<RunState, std::string_view>> names = {
        {RunState::kQueued, "queued"},
        {RunState::kRunning, "running"},
        {RunState::kSuccess, "success"},
        {RunState::kFailed, "failed"},
    };
    for (const auto& [state, name] : names) {
        EXPECT_EQ(to_string(state), name);
        EXPECT_EQ(parse_run_state(name), state) << name;
    }
}

TEST(StoreModelTest, RunTypeNamesAreAirflows) {
    const std::vector<std::pair<RunType, std::string_view>> names = {
        {RunType::kManual, "manual"},
        {RunType::kScheduled, "scheduled"},
        {RunType::kBackfill, "backfill"},
    };
    for (const auto& [type, name] : names) {
        EXPECT_EQ(to_string(type), name);
        EXPECT_EQ(parse_run_type(name), type) << name;
    }
}

TEST(StoreModelTest, TaskStateNamesAreAirflows) {
    const std::vector<std::pair<TaskState, std::string_view>> names = {
        {TaskState::kNone, "none"},
        {TaskState::kScheduled, "scheduled"},
        {TaskState::kQueued, "queued"},
        {TaskState::kRunning, "running"},
        {TaskState::kSuccess, "success"},
        {TaskState::kFailed, "failed"},
        {TaskState::kUpForRetry, "up_for_retry"},
        {TaskState::kUpstreamFailed, "upstream_failed"},
        {TaskState::kSkipped, "skipped"},
        {TaskState::kRemoved, "removed"},
    };
    for (const auto& [state, name] : names) {
        EXPECT_EQ(to_string(state), name);
        EXPECT_EQ(parse_task_state(name), state) << name;
    }
}

TEST(StoreModelTest, UnknownNamesDoNotParse) {
    EXPECT_EQ(parse_run_state("Running"), std::nullopt);
    EXPECT_EQ(parse_run_state("none"), std::nullopt);
    EXPECT_EQ(parse_run_state(""), std::nullopt);
    EXPECT_EQ(parse_run_type("dataset_triggered"), std::nullopt);
    EXPECT_EQ(parse_task_state("SUCCESS"), std::nullopt);
    EXPECT_EQ(parse_task_state("up-for-retry"), std::nullopt);
    EXPECT_EQ(parse_task_state(""), std::nullopt);
}

TEST(StoreModelTest, FinishedStatesAreTheTerminalOnes) {
    EXPECT_TRUE(is_finished(TaskState::kSuccess));
    EXPECT_TRUE(is_finished(TaskState::kFailed));
    EXPECT_TRUE(is_finished(TaskState::kSkipped));
    EXPECT_TRUE(is_finished(TaskState::kUpstreamFailed));
    EXPECT_TRUE(is_finished(TaskState::kRemoved));
    EXPECT_FALSE(is_finished(TaskState::kNone));
    EXPECT_FALSE(is_finished(TaskState::kScheduled));
    EXPECT_FALSE(is_finished(TaskState::kQueued));
    EXPECT_FALSE(is_finished(TaskState::kRunning));
    EXPECT_FALSE(is_finished(TaskState::kUpForRetry));
}

}  // namespace
}  // namespace orquestra::store
