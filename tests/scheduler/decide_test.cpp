#include "scheduler/decide.hpp"

#include "dag/loader.hpp"

#include <gtest/gtest.h>

namespace orquestra::scheduler {
namespace {

using dag::TriggerRule;
using store::TaskState;
constexpr auto S = TaskState::kSuccess;
constexpr auto F = TaskState::kFailed;
constexpr auto UF = TaskState::kUpstreamFailed;
constexpr auto K = TaskState::kSkipped;
constexpr auto R = TaskState::kRunning;
constexpr auto N = TaskState::kNone;
constexpr auto RETRY = TaskState::kUpForRetry;

struct Case {
    TriggerRule rule;
    std::vector<TaskState> upstream;
    Readiness expected;
};

TEST(DecideTest, EveryTriggerRule) {
    std::vector<Case> cases = {
        {TriggerRule::kAllSuccess, {}, Readiness::kRun},
        {TriggerRule::kAllSuccess, {S, S}, Readiness::kRun},
        {TriggerRule::kAllSuccess, {S, R}, Readiness::kWait},
        {TriggerRule::kAllSuccess, {S, RETRY}, Readiness::kWait},
        {TriggerRule::kAllSuccess, {S, F}, Readiness::kUpstreamFailed},
        {TriggerRule::kAllSuccess, {R, UF}, Readiness::kUpstreamFailed},
        {TriggerRule::kAllSuccess, {S, K}, Readiness::kSkip},
        {TriggerRule::kAllFailed, {F, UF}, Readiness::kRun},
        {TriggerRule::kAllFailed, {F, R}, Readiness::kWait},
        {TriggerRule::kAllFailed, {F, S}, Readiness::kSkip},
        {TriggerRule::kAllFailed, {K}, Readiness::kSkip},
        {TriggerRule::kAllDone, {S, F, K, UF}, Readiness::kRun},
        {TriggerRule::kAllDone, {S, R}, Readiness::kWait},
        {TriggerRule::kAllDone, {N}, Readiness::kWait},
        {TriggerRule::kOneSuccess, {S, R}, Readiness::kRun},
        {TriggerRule::kOneSuccess, {F, R}, Readiness::kWait},
        {TriggerRule::kOneSuccess, {F, K}, Readiness::kUpstreamFailed},
        {TriggerRule::kOneSuccess, {K, K}, Readiness::kSkip},
        {TriggerRule::kOneFailed, {F, R}, Readiness::kRun},
        {TriggerRule::kOneFailed, {S, R}, Readiness::kWait},
        {TriggerRule::kOneFailed, {S, K}, Readiness::kSkip},
        {TriggerRule::kNoneFailed, {S, K}, Readiness::kRun},
        {TriggerRule::kNoneFailed, {S, R}, Readiness::kWait},
        {TriggerRule::kNoneFailed, {S, UF}, Readiness::kUpstreamFailed},
        {TriggerRule::kNoneSkipped, {S, F}, Readiness::kRun},
        {TriggerRule::kNoneSkipped, {S, R}, Readiness::kWait},
        {TriggerRule::kNoneSkipped, {S, K}, Readiness::kSkip},
        {TriggerRule::kAlways, {R, N}, Readiness::kRun},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(evaluate_trigger(c.rule, c.upstream), c.expected)
            << dag::to_string(c.rule) << " with " << c.upstream.size() << " upstream";
    }
}

TEST(DecideTest, RetryDelayBacksOffAndCaps) {
    dag::Task t;
    t.retry_delay = 1000;
    EXPECT_EQ(retry_delay(t, 2), 1000);
    EXPECT_EQ(retry_delay(t, 5), 1000);
    t.retry_exponential_backoff = true;
    EXPECT_EQ(retry_delay(t, 2), 1000);
    EXPECT_EQ(retry_delay(t, 3), 2000);
    EXPECT_EQ(retry_delay(t, 4), 4000);
    t.max_retry_delay = 3000;
    EXPECT_EQ(retry_delay(t, 4), 3000);
    EXPECT_EQ(retry_delay(t, 60), 3000);
}

TEST(DecideTest, RunOutcomeLooksAtLeaves) {
    auto dag = dag::parse_dag(R"(
dag_id: d
tasks:
  a: {command: ["true"]}
  b: {command: ["true"], upstream: [a]}
  cleanup: {command: ["true"], upstream: [a], trigger_rule: all_done}
)",
                              "d.yaml");
    ASSERT_TRUE(dag) << dag.error().message;
    auto ti = [](std::string id, TaskState s) {
        store::TaskInstance t;
        t.task_id = std::move(id);
        t.state = s;
        return t;
    };
    EXPECT_FALSE(run_outcome(*dag, {ti("a", S), ti("b", R), ti("cleanup", S)}).has_value());
    EXPECT_EQ(run_outcome(*dag, {ti("a", S), ti("b", S), ti("cleanup", S)}),
              store::RunState::kSuccess);
    // a failed but is not a leaf; b (a leaf) is upstream_failed: the run fails.
    EXPECT_EQ(run_outcome(*dag, {ti("a", F), ti("b", UF), ti("cleanup", S)}),
              store::RunState::kFailed);
    EXPECT_EQ(run_outcome(*dag, {ti("a", S), ti("b", K), ti("cleanup", S)}),
              store::RunState::kSuccess);
}

TEST(TaskOpsTest, ExpandFollowsUpstreamAndDownstreamTransitively) {
    auto d = dag::parse_dag(R"(
dag_id: chain
tasks:
  a: {command: "true"}
  b: {upstream: [a], command: "true"}
  c: {upstream: [b], command: "true"}
  x: {command: "true"}
)",
                            "chain.yaml");
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(expand_tasks(*d, {"b"}, false, false), (std::set<std::string>{"b"}));
    EXPECT_EQ(expand_tasks(*d, {"b"}, true, false), (std::set<std::string>{"a", "b"}));
    EXPECT_EQ(expand_tasks(*d, {"a"}, false, true), (std::set<std::string>{"a", "b", "c"}));
    EXPECT_EQ(expand_tasks(*d, {"b"}, true, true), (std::set<std::string>{"a", "b", "c"}));
}

// GCC 12 takes the std::optional<std::string> member assigned below for uninitialized
// (-Wmaybe-uninitialized, a false positive once TaskInstance grew its pool fields).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
TEST(TaskOpsTest, ClearKeepsTheTryNumberAndGrantsTheRetriesAgain) {
    store::TaskInstance ti;
    ti.state = store::TaskState::kFailed;
    ti.try_number = 3;
    ti.max_tries = 3;
    ti.start_date = 1;
    ti.end_date = 2;
    ti.output_json = "1";
    dag::Task task;
    task.retries = 2;
    clear_task_instance(ti, &task);
    EXPECT_EQ(ti.state, store::TaskState::kNone);
    EXPECT_EQ(ti.try_number, 3);
    EXPECT_EQ(ti.max_tries, 6);
    EXPECT_FALSE(ti.start_date);
    EXPECT_FALSE(ti.end_date);
    EXPECT_FALSE(ti.output_json);

    store::DagRun run;
    run.state = store::RunState::kFailed;
    run.start_date = 1;
    run.end_date = 2;
    requeue_run(run);
    EXPECT_EQ(run.state, store::RunState::kQueued);
    EXPECT_FALSE(run.end_date);
}
#pragma GCC diagnostic pop

}  // namespace
}  // namespace orquestra::scheduler
