// ApiClient against the real REST API booted in process (ApiStack: registry, workflow node with
// SQLite and command tasks, ApiServer on 127.0.0.1:0). One stack serves the suite; each test
// uses its own run ids, and waits for the runs it started to finish: stopping the workflow node
// while a command task still runs can crash the engine (the runner's callback in Engine::flush,
// src/scheduler/engine.cpp, reads the destroyed Engine).

#include "client/api_client.hpp"

#include "api_stack.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace orquestra::client {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr const char* kEchoDag = R"(
dag_id: echoes
is_paused_upon_creation: false
params:
  n: {type: integer, minimum: 1, default: 1}
tasks:
  greet:
    command:
      script: 'echo "ola $N"'
      env: {N: "{{ params.n }}"}
  after:
    upstream: [greet]
    command: 'echo depois'
)";

constexpr const char* kFailingDag = R"(
dag_id: failing
is_paused_upon_creation: false
tasks:
  bad: {command: 'echo "vai falhar"; exit 3'}
)";

// Paused (the default): its runs stay queued.
constexpr const char* kParkedDag = R"(
dag_id: parked
tasks:
  only: {command: "true"}
)";

constexpr auto kRunTimeout = 10s;

testing::ApiStack* stack = nullptr;

class ApiClientTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        stack = new testing::ApiStack;
        auto registry = stack->start_registry();
        ASSERT_TRUE(registry) << registry.error().message;
        auto api = stack->start_api({{"echoes.yaml", kEchoDag},
                                     {"failing.yaml", kFailingDag},
                                     {"parked.yaml", kParkedDag}});
        ASSERT_TRUE(api) << api.error().message;
    }

    static void TearDownTestSuite() {
        delete stack;
        stack = nullptr;
    }

    void SetUp() override { ASSERT_NE(stack->api_port(), 0) << "the API did not start"; }

    static ApiClient client(const std::string& password = testing::ApiStack::kPassword) {
        return ApiClient(stack->url(), testing::ApiStack::kUser, password, 5s);
    }
};

TEST_F(ApiClientTest, TriggerThenWaitReachesSuccess) {
    auto api = client();
    auto run = api.trigger_dag("echoes", "ok_run", json::object{{"n", 2}});
    ASSERT_TRUE(run) << run.error().message;
    EXPECT_EQ(run->dag_id, "echoes");
    EXPECT_EQ(run->dag_run_id, "ok_run");
    EXPECT_EQ(run->state, "queued");
    EXPECT_FALSE(run->logical_date.empty());
    EXPECT_EQ(run->end_date, "");
    EXPECT_EQ(run->conf, (json::object{{"n", 2}}));

    auto done = api.wait_for_run("echoes", "ok_run", kRunTimeout, 20ms);
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_EQ(done->state, "success");
    EXPECT_FALSE(done->start_date.empty());
    EXPECT_FALSE(done->end_date.empty());
    EXPECT_EQ(done->logical_date, run->logical_date);
}

TEST_F(ApiClientTest, EmptyRunIdLetsTheServerChooseOne) {
    auto run = client().trigger_dag("echoes");
    ASSERT_TRUE(run) << run.error().message;
    EXPECT_EQ(run->dag_run_id.rfind("manual__", 0), 0u) << run->dag_run_id;
    auto again = client().get_dag_run("echoes", run->dag_run_id);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->dag_run_id, run->dag_run_id);
    // Not left running (see the file comment).
    EXPECT_TRUE(client().wait_for_run("echoes", run->dag_run_id, kRunTimeout, 20ms));
}

TEST_F(ApiClientTest, DuplicateRunIdIsHttp409) {
    auto api = client();
    ASSERT_TRUE(api.trigger_dag("echoes", "twice"));
    auto second = api.trigger_dag("echoes", "twice");
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, ErrorCode::kConflict);
    EXPECT_EQ(second.error().message.rfind("HTTP 409: ", 0), 0u) << second.error().message;
    EXPECT_NE(second.error().message.find("twice"), std::string::npos) << second.error().message;
    EXPECT_EQ(http_status(second.error()), 409);
    EXPECT_TRUE(api.wait_for_run("echoes", "twice", kRunTimeout, 20ms));
}

TEST_F(ApiClientTest, ConfFailingTheParamsSchemaIsHttp400NamingTheField) {
    auto run = client().trigger_dag("echoes", "bad_conf", json::object{{"n", "muitos"}});
    ASSERT_FALSE(run);
    EXPECT_EQ(run.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(run.error().message.rfind("HTTP 400: ", 0), 0u) << run.error().message;
    EXPECT_NE(run.error().message.find("'n'"), std::string::npos) << run.error().message;
    auto missing = client().get_dag_run("echoes", "bad_conf");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(ApiClientTest, WrongPasswordIsHttp401) {
    auto run = client("not-the-password").trigger_dag("echoes", "intruder");
    ASSERT_FALSE(run);
    EXPECT_EQ(run.error().code, ErrorCode::kUnauthorized);
    EXPECT_EQ(run.error().message.rfind("HTTP 401: ", 0), 0u) << run.error().message;
    EXPECT_EQ(http_status(run.error()), 401);
}

TEST_F(ApiClientTest, UnknownRunAndUnknownDagAreNotFound) {
    auto run = client().get_dag_run("echoes", "never_triggered");
    ASSERT_FALSE(run);
    EXPECT_EQ(run.error().code, ErrorCode::kNotFound);
    EXPECT_EQ(run.error().message.rfind("HTTP 404: ", 0), 0u) << run.error().message;
    EXPECT_NE(run.error().message.find("never_triggered"), std::string::npos)
        << run.error().message;

    auto dag = client().trigger_dag("no_such_dag", "x");
    ASSERT_FALSE(dag);
    EXPECT_EQ(dag.error().code, ErrorCode::kNotFound);
    EXPECT_NE(dag.error().message.find("no_such_dag"), std::string::npos) << dag.error().message;
}

TEST_F(ApiClientTest, TaskInstancesAndLogsOfAFinishedRun) {
    auto api = client();
    ASSERT_TRUE(api.trigger_dag("echoes", "with_logs", json::object{{"n", 3}}));
    auto done = api.wait_for_run("echoes", "with_logs", kRunTimeout, 20ms);
    ASSERT_TRUE(done) << done.error().message;
    ASSERT_EQ(done->state, "success");

    auto tasks = api.task_instances("echoes", "with_logs");
    ASSERT_TRUE(tasks) << tasks.error().message;
    ASSERT_EQ(tasks->size(), 2u);
    std::map<std::string, TaskInstanceInfo> by_id;
    for (const auto& ti : *tasks) by_id[ti.task_id] = ti;
    ASSERT_TRUE(by_id.contains("greet") && by_id.contains("after"));
    EXPECT_EQ(by_id["greet"].state, "success");
    EXPECT_EQ(by_id["greet"].try_number, 1);
    EXPECT_EQ(by_id["after"].state, "success");
    EXPECT_FALSE(by_id["greet"].start_date.empty());
    EXPECT_FALSE(by_id["after"].end_date.empty());
    EXPECT_LE(by_id["greet"].end_date, by_id["after"].start_date);

    auto order = api.task_ids("echoes");
    ASSERT_TRUE(order) << order.error().message;
    EXPECT_EQ(*order, (std::vector<std::string>{"greet", "after"}));

    auto log = api.task_log("echoes", "with_logs", "greet", 1);
    ASSERT_TRUE(log) << log.error().message;
    EXPECT_NE(log->find("ola 3"), std::string::npos) << *log;
    EXPECT_EQ(log->find("depois"), std::string::npos) << "another task's output: " << *log;

    auto no_try = api.task_log("echoes", "with_logs", "greet", 2);
    ASSERT_FALSE(no_try);
    EXPECT_EQ(no_try.error().code, ErrorCode::kNotFound);
}

TEST_F(ApiClientTest, RunIdsWithColonAndPlusRoundTrip) {
    const std::string id = "invocar_dag__2024-03-01T09:26:27.123+00:00";
    auto api = client();
    auto run = api.trigger_dag("echoes", id);
    ASSERT_TRUE(run) << run.error().message;
    EXPECT_EQ(run->dag_run_id, id);
    auto done = api.wait_for_run("echoes", id, kRunTimeout, 20ms);
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_EQ(done->dag_run_id, id);
    EXPECT_EQ(done->state, "success");
    auto tasks = api.task_instances("echoes", id);
    ASSERT_TRUE(tasks) << tasks.error().message;
    EXPECT_EQ(tasks->size(), 2u);
    auto log = api.task_log("echoes", id, "greet", 1);
    ASSERT_TRUE(log) << log.error().message;
    EXPECT_NE(log->find("ola 1"), std::string::npos) << *log;
}

TEST_F(ApiClientTest, WaitForRunReturnsAFailedRun) {
    auto api = client();
    ASSERT_TRUE(api.trigger_dag("failing", "will_fail"));
    auto done = api.wait_for_run("failing", "will_fail", kRunTimeout, 20ms);
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_EQ(done->state, "failed");
    auto tasks = api.task_instances("failing", "will_fail");
    ASSERT_TRUE(tasks) << tasks.error().message;
    ASSERT_EQ(tasks->size(), 1u);
    EXPECT_EQ((*tasks)[0].state, "failed");
    auto log = api.task_log("failing", "will_fail", "bad", 1);
    ASSERT_TRUE(log) << log.error().message;
    EXPECT_NE(log->find("vai falhar"), std::string::npos) << *log;
}

TEST_F(ApiClientTest, WaitForRunTimesOutOnARunThatStaysQueued) {
    auto api = client();
    ASSERT_TRUE(api.trigger_dag("parked", "stays_queued"));
    const auto started = std::chrono::steady_clock::now();
    auto done = api.wait_for_run("parked", "stays_queued", 300ms, 20ms);
    const auto waited = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(done);
    EXPECT_EQ(done.error().code, ErrorCode::kTimeout);
    EXPECT_NE(done.error().message.find("queued"), std::string::npos) << done.error().message;
    EXPECT_GE(waited, 300ms);
    EXPECT_LT(waited, 5s);
}

TEST_F(ApiClientTest, BaseUrlMayCarryAPrefixOrTheApiPath) {
    for (const std::string& base :
         {stack->url() + "/", stack->url() + "/api/v1", stack->url() + "/api/v1/"}) {
        ApiClient api(base, testing::ApiStack::kUser, testing::ApiStack::kPassword);
        EXPECT_EQ(api.api_url(), stack->url() + "/api/v1");
        auto run = api.get_dag_run("echoes", "missing");
        ASSERT_FALSE(run);
        EXPECT_EQ(run.error().code, ErrorCode::kNotFound) << base << ": " << run.error().message;
    }
    ApiClient prefixed(stack->url() + "/orquestra", "admin", "x");
    EXPECT_EQ(prefixed.api_url(), stack->url() + "/orquestra/api/v1");
}

TEST_F(ApiClientTest, BadUrlAndUnreachableServerAreNotHttpErrors) {
    ApiClient bad("ftp://127.0.0.1:21", "admin", "x");
    auto run = bad.get_dag_run("echoes", "x");
    ASSERT_FALSE(run);
    EXPECT_EQ(run.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(http_status(run.error()), std::nullopt);

    // Port 1 on loopback: nothing listens there (it would need root).
    ApiClient nowhere("http://127.0.0.1:1", "admin", "x", 2s);
    auto none = nowhere.get_dag_run("echoes", "x");
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, ErrorCode::kUnavailable) << none.error().message;
    EXPECT_EQ(http_status(none.error()), std::nullopt);
}

}  // namespace
}  // namespace orquestra::client
