// The REST API end to end: a real HttpServer on 127.0.0.1:0 serving ApiServer, in front of a
// real WorkflowNode (temporary home, SQLite, DAG files written here, command tasks that finish
// in milliseconds) and a real registry, driven by real HTTP requests. One node serves the whole
// suite (starting it and hashing passwords is the slow part); each test uses its own DAG or
// run ids so that the tests do not depend on each other's order.

#include "api/api.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "api/users.hpp"
#include "app/registry_directory.hpp"
#include "app/registry_node.hpp"
#include "app/workflow_node.hpp"
#include "core/strings.hpp"
#include "dag/time_text.hpp"
#include "test_http.hpp"

namespace orquestra::api {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Reply;

constexpr const char* kQuickDag = R"(
dag_id: quick
description: Two fast commands
tags: [api, fast]
is_paused_upon_creation: false
default_args: {owner: ana, retry_delay: 90s}
params:
  count: {type: integer, minimum: 1, default: 1, description: how many}
tasks:
  first:
    command:
      script: 'echo "{\"n\": $COUNT}"'
      env: {COUNT: "{{ params.count }}"}
  second:
    upstream: [first]
    command: 'echo line-one; echo line-two'
)";

constexpr const char* kFailingDag = R"(
dag_id: failing
is_paused_upon_creation: false
tasks:
  bad: {command: "exit 3"}
  after:
    upstream: [bad]
    command: "echo after"
)";

constexpr const char* kSlowDag = R"(
dag_id: slow
is_paused_upon_creation: false
tasks:
  nap: {command: "sleep 1"}
  wake:
    upstream: [nap]
    command: "true"
)";

// Paused (the default): its runs stay queued.
constexpr const char* kParkedDag = R"(
dag_id: parked
tasks:
  only: {command: "true"}
)";

constexpr const char* kToggleDag = R"(
dag_id: toggle
tasks:
  only: {command: "true"}
)";

constexpr const char* kCronDag = R"(
dag_id: cron_dag
schedule: "0 6 * * 1-5"
start_date: 2024-01-01
tasks:
  only:
    command: "true"
    retries: 2
    retry_delay: 1m
    execution_timeout: 1h30m
)";

constexpr const char* kIntervalDag = R"(
dag_id: interval_dag
schedule: 1d
start_date: 2024-01-01
tasks:
  only: {command: "true"}
)";

// Line 4 has a misspelt key.
constexpr const char* kBrokenDag = "dag_id: broken\ntasks:\n  a:\n    comand: \"true\"\n";

constexpr int kActiveDags = 7;

// Everything the suite shares, built once.
struct Env {
    fs::path home;
    testing::IoThreads registry_io{1};
    testing::IoThreads api_io{2};
    std::unique_ptr<app::RegistryNode> registry;
    std::unique_ptr<app::RegistryDirectory> directory;
    http::IoPool pool{1};
    std::unique_ptr<app::WorkflowNode> node;
    std::unique_ptr<ApiServer> api;
    std::unique_ptr<http::HttpServer> server;
    std::uint16_t port = 0;
};

Env* env = nullptr;

void write_file(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

class ApiTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        env = new Env;
        std::random_device rd;
        env->home = fs::temp_directory_path() /
                    ("orquestra-api-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
        fs::create_directories(env->home / "dags");
        const fs::path dags = env->home / "dags";
        write_file(dags / "quick.yaml", kQuickDag);
        write_file(dags / "failing.yaml", kFailingDag);
        write_file(dags / "slow.yaml", kSlowDag);
        write_file(dags / "parked.yaml", kParkedDag);
        write_file(dags / "toggle.yaml", kToggleDag);
        write_file(dags / "cron.yaml", kCronDag);
        write_file(dags / "interval.yaml", kIntervalDag);
        write_file(dags / "broken.yaml", kBrokenDag);

        env->registry = std::make_unique<app::RegistryNode>(
            env->registry_io.io(), SystemClock::instance(), app::RegistryNodeOptions{});
        ASSERT_TRUE(env->registry->start());
        env->directory = std::make_unique<app::RegistryDirectory>(env->registry->registry());
        env->pool.start();
        app::HomePaths paths{env->home, dags, env->home / "orquestra.db", env->home / "logs"};
        env->node = std::make_unique<app::WorkflowNode>(
            paths, *env->directory, env->pool, SystemClock::instance(), scheduler::EngineOptions{});
        auto started = env->node->start();
        ASSERT_TRUE(started) << started.error().message;

        for (auto [name, role] : {std::pair{"admin", "Admin"}, std::pair{"viewer", "Viewer"},
                                  std::pair{"user", "User"}}) {
            auto created = create_user(env->node->store(),
                                       UserSpec{name, std::string(name) + "-secret", role,
                                                std::string(name) + "@example.com", "", ""});
            ASSERT_TRUE(created) << created.error().message;
        }

        ApiOptions options;
        options.version = "9.8.7";
        options.git_version = "abc123";
        options.config = {
            {"core", {{"dags_folder", dags.string()}, {"secret_key", "do-not-show-me"}}},
            {"database",
             {{"sql_alchemy_conn", "postgresql://orq:pg-pass-123@db.local:5432/orq"}}},
        };
        env->api = std::make_unique<ApiServer>(env->node->engine(), env->node->store(),
                                               env->node->loop(), options);
        env->server = std::make_unique<http::HttpServer>(env->api_io.io(), http::ServerOptions{},
                                                         env->api->handler());
        auto port = env->server->start();
        ASSERT_TRUE(port) << port.error().message;
        env->port = *port;
    }

    // The HTTP server stops before the API, the API before the engine loop.
    static void TearDownTestSuite() {
        if (env == nullptr) return;
        if (env->server) {
            env->server->stop();
            std::promise<void> closed;
            boost::asio::post(env->api_io.io(), [&closed] { closed.set_value(); });
            closed.get_future().wait();
        }
        env->api_io.stop();
        env->server.reset();
        env->api.reset();
        env->pool.stop();
        env->node.reset();
        if (env->registry) env->registry->stop();
        env->registry_io.stop();
        std::error_code ec;
        fs::remove_all(env->home, ec);
        delete env;
        env = nullptr;
    }

    static std::pair<std::string, std::string> auth(const std::string& user) {
        return {"Authorization", "Basic " + base64_encode(user + ":" + user + "-secret")};
    }

    // A request as `user` (its password is "<user>-secret"); "" sends no credentials.
    static Reply call(const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& user = "admin",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
        if (!user.empty()) headers.push_back(auth(user));
        if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
        return testing::request(env->port, method, "/api/v1" + target, body, headers);
    }

    static json::object parse(const Reply& reply) {
        boost::system::error_code ec;
        auto v = json::parse(reply.body, ec);
        if (ec || !v.is_object()) {
            ADD_FAILURE() << "not a JSON object: " << reply.body;
            return {};
        }
        return v.as_object();
    }

    static std::string text(const json::value& v) {
        return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
    }

    // A problem+json answer with the given status and title, whose detail mentions `words`.
    static void expect_problem(const Reply& reply, int status, std::string_view title,
                               std::vector<std::string> words = {}) {
        EXPECT_EQ(reply.status, status) << reply.body;
        EXPECT_EQ(reply.header("Content-Type"), "application/problem+json");
        auto body = parse(reply);
        EXPECT_EQ(text(body["title"]), title);
        EXPECT_EQ(body["status"], json::value(status));
        EXPECT_TRUE(body["type"].is_string());
        EXPECT_TRUE(body["instance"].is_string());
        for (const auto& w : words) {
            EXPECT_NE(text(body["detail"]).find(w), std::string::npos)
                << "detail lacks '" << w << "': " << reply.body;
        }
    }

    static Reply trigger(const std::string& dag_id, const std::string& run_id,
                         const std::string& conf = "{}", const std::string& user = "admin") {
        return call("POST", "/dags/" + dag_id + "/dagRuns",
                    R"({"dag_run_id":")" + run_id + R"(","conf":)" + conf + "}", user);
    }

    // Polls the run until it reaches `state` (at most 10 s).
    static json::object wait_for_run(const std::string& dag_id, const std::string& run_id,
                                     const std::string& state) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        json::object last;
        while (std::chrono::steady_clock::now() < deadline) {
            auto reply = call("GET", "/dags/" + dag_id + "/dagRuns/" + run_id);
            if (reply.status == 200) {
                last = parse(reply);
                if (text(last["state"]) == state) return last;
            }
            std::this_thread::sleep_for(10ms);
        }
        ADD_FAILURE() << dag_id << " / " << run_id << " did not reach " << state
                      << "; last: " << json::serialize(last);
        return last;
    }

    static json::object task_instance(const std::string& dag_id, const std::string& run_id,
                                      const std::string& task_id) {
        auto reply =
            call("GET", "/dags/" + dag_id + "/dagRuns/" + run_id + "/taskInstances/" + task_id);
        EXPECT_EQ(reply.status, 200) << reply.body;
        return parse(reply);
    }
};

// --- no credentials needed ---------------------------------------------------------------------

TEST_F(ApiTest, HealthAndVersionNeedNoCredentials) {
    // The first heartbeat may still be on its way when the suite starts.
    auto deadline = std::chrono::steady_clock::now() + 5s;
    auto health = call("GET", "/health", "", "");
    while (health.body.find("unhealthy") != std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
        health = call("GET", "/health", "", "");
    }
    ASSERT_EQ(health.status, 200) << health.body;
    EXPECT_EQ(health.header("Content-Type"), "application/json");
    auto body = parse(health);
    EXPECT_EQ(text(body["metadatabase"].as_object()["status"]), "healthy");
    auto& scheduler = body["scheduler"].as_object();
    EXPECT_EQ(text(scheduler["status"]), "healthy");
    ASSERT_TRUE(scheduler["latest_scheduler_heartbeat"].is_string()) << health.body;
    auto beat = dag::parse_datetime(text(scheduler["latest_scheduler_heartbeat"]));
    ASSERT_TRUE(beat);
    EXPECT_LT(std::abs(SystemClock::instance().now_ms() - *beat), 10'000);

    auto version = call("GET", "/version", "", "");
    ASSERT_EQ(version.status, 200);
    EXPECT_EQ(parse(version), json::parse(R"({"version":"9.8.7","git_version":"abc123"})"));
}

// --- authentication and roles ------------------------------------------------------------------

TEST_F(ApiTest, MissingOrWrongCredentialsAre401WithAChallenge) {
    auto none = call("GET", "/dags", "", "");
    expect_problem(none, 401, "Unauthorized");
    EXPECT_EQ(none.header("WWW-Authenticate"), "Basic realm=\"Orquestra\"");

    auto wrong =
        call("GET", "/dags", "", "", {{"Authorization", "Basic " + base64_encode("admin:nope")}});
    expect_problem(wrong, 401, "Unauthorized");
    EXPECT_EQ(wrong.header("WWW-Authenticate"), "Basic realm=\"Orquestra\"");

    auto unknown =
        call("GET", "/dags", "", "", {{"Authorization", "Basic " + base64_encode("ghost:x")}});
    expect_problem(unknown, 401, "Unauthorized");

    // The right password after wrong ones still works (and a wrong one after a cached right
    // one still fails).
    EXPECT_EQ(call("GET", "/dags").status, 200);
    auto again =
        call("GET", "/dags", "", "", {{"Authorization", "Basic " + base64_encode("admin:nope")}});
    EXPECT_EQ(again.status, 401);
}

TEST_F(ApiTest, ViewerReadsButMayNotTrigger) {
    EXPECT_EQ(call("GET", "/dags", "", "viewer").status, 200);
    EXPECT_EQ(call("GET", "/dags/parked/dagRuns", "", "viewer").status, 200);
    auto denied = trigger("parked", "by_viewer", "{}", "viewer");
    expect_problem(denied, 403, "Forbidden", {"Viewer"});
    expect_problem(call("GET", "/dags/parked/dagRuns/by_viewer"), 404, "Not Found");
    auto pause =
        call("PATCH", "/dags/toggle?update_mask=is_paused", R"({"is_paused":false})", "viewer");
    EXPECT_EQ(pause.status, 403);
}

TEST_F(ApiTest, UserRoleTriggersARun) {
    auto reply = trigger("parked", "by_user", R"({"note":"hi"})", "user");
    ASSERT_EQ(reply.status, 200) << reply.body;
    auto run = parse(reply);
    EXPECT_EQ(text(run["dag_run_id"]), "by_user");
    EXPECT_EQ(text(run["dag_id"]), "parked");
    EXPECT_EQ(text(run["state"]), "queued");
    EXPECT_EQ(text(run["run_type"]), "manual");
    EXPECT_EQ(run["external_trigger"], json::value(true));
    EXPECT_EQ(run["conf"], json::parse(R"({"note":"hi"})"));
    // A paused DAG's run waits: not started, not ended.
    EXPECT_TRUE(run["start_date"].is_null());
    EXPECT_TRUE(run["end_date"].is_null());
    ASSERT_TRUE(run["logical_date"].is_string());
    EXPECT_TRUE(dag::parse_datetime(text(run["logical_date"])));
    EXPECT_EQ(run["logical_date"], run["execution_date"]);
}

// --- triggering --------------------------------------------------------------------------------

TEST_F(ApiTest, ConfFailingTheParamsSchemaIs400AndCreatesNoRun) {
    auto reply = trigger("quick", "bad_conf", R"({"count": 0})");
    expect_problem(reply, 400, "Bad Request", {"count", "minimum"});
    expect_problem(call("GET", "/dags/quick/dagRuns/bad_conf"), 404, "Not Found");

    auto wrong_type = trigger("quick", "bad_type", R"({"count": "two"})");
    expect_problem(wrong_type, 400, "Bad Request", {"count"});
    EXPECT_EQ(call("GET", "/dags/quick/dagRuns/bad_type").status, 404);

    // A body that is not what the API takes names the field.
    expect_problem(call("POST", "/dags/parked/dagRuns", R"({"dag_run_id": 5})"), 400, "Bad Request",
                   {"dag_run_id"});
    expect_problem(call("POST", "/dags/parked/dagRuns", R"({"config": {}})"), 400, "Bad Request",
                   {"config"});
    expect_problem(call("POST", "/dags/parked/dagRuns", "{not json"), 400, "Bad Request", {"JSON"});
    expect_problem(call("POST", "/dags/parked/dagRuns", R"({"dag_run_id": "a b"})"), 400,
                   "Bad Request", {"a b"});
}

TEST_F(ApiTest, ExistingRunIdIs409) {
    ASSERT_EQ(trigger("parked", "twice").status, 200);
    expect_problem(trigger("parked", "twice"), 409, "Conflict", {"twice"});
}

TEST_F(ApiTest, TwentyTriggersInOneSecondWithDifferentIdsAllSucceed) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) {
        auto reply = trigger("parked", "burst_" + std::to_string(i));
        EXPECT_EQ(reply.status, 200) << i << ": " << reply.body;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    auto listed = call("GET", "/dags/parked/dagRuns?limit=100&order_by=-id");
    ASSERT_EQ(listed.status, 200);
    int burst = 0;
    auto page = parse(listed);
    for (const auto& run : page["dag_runs"].as_array()) {
        if (text(run.as_object().at("dag_run_id")).rfind("burst_", 0) == 0) ++burst;
    }
    EXPECT_EQ(burst, 20);
}

TEST_F(ApiTest, DefaultRunIdAndLogicalDate) {
    auto reply =
        call("POST", "/dags/parked/dagRuns", R"({"logical_date": "2030-05-06T07:08:09+00:00"})");
    ASSERT_EQ(reply.status, 200) << reply.body;
    auto run = parse(reply);
    EXPECT_EQ(text(run["dag_run_id"]), "manual__2030-05-06T07:08:09+00:00");
    EXPECT_EQ(text(run["logical_date"]), "2030-05-06T07:08:09+00:00");
    // The id holds ':' and '+', which travel percent-encoded in a path.
    auto got = call("GET", "/dags/parked/dagRuns/manual__2030-05-06T07%3A08%3A09%2B00%3A00");
    EXPECT_EQ(got.status, 200) << got.body;
}

TEST_F(ApiTest, UnknownDagIs404ProblemJson) {
    auto reply = call("GET", "/dags/nope");
    expect_problem(reply, 404, "Not Found", {"nope"});
    EXPECT_EQ(text(parse(reply)["instance"]), "/api/v1/dags/nope");
    expect_problem(trigger("nope", "r1"), 404, "Not Found", {"nope"});
    expect_problem(call("GET", "/dags/nope/dagRuns"), 404, "Not Found");
    expect_problem(call("GET", "/dags/quick/dagRuns/never"), 404, "Not Found", {"never"});
    expect_problem(call("GET", "/no/such/endpoint"), 404, "Not Found");
    expect_problem(call("PUT", "/dags/quick"), 405, "Method Not Allowed");
}

// --- DAGs --------------------------------------------------------------------------------------

TEST_F(ApiTest, ListDagsPagesWithTotalEntries) {
    auto first = call("GET", "/dags?limit=3");
    ASSERT_EQ(first.status, 200) << first.body;
    auto page1 = parse(first);
    EXPECT_EQ(page1["total_entries"], json::value(kActiveDags));
    ASSERT_EQ(page1["dags"].as_array().size(), 3U);
    EXPECT_EQ(text(page1["dags"].as_array()[0].as_object()["dag_id"]), "cron_dag");

    auto rest = parse(call("GET", "/dags?limit=3&offset=6"));
    EXPECT_EQ(rest["total_entries"], json::value(kActiveDags));
    ASSERT_EQ(rest["dags"].as_array().size(), 1U);
    EXPECT_EQ(text(rest["dags"].as_array()[0].as_object()["dag_id"]), "toggle");

    auto tagged = parse(call("GET", "/dags?tags=fast"));
    EXPECT_EQ(tagged["total_entries"], json::value(1));
    auto pattern = parse(call("GET", "/dags?dag_id_pattern=DAG"));  // case-insensitive substring
    EXPECT_EQ(pattern["total_entries"], json::value(2));
    auto unpaused = parse(call("GET", "/dags?paused=false"));
    EXPECT_EQ(unpaused["total_entries"], json::value(3));  // quick, failing, slow

    // More than 100 is capped at 100; bad values are 400 naming the parameter.
    EXPECT_EQ(call("GET", "/dags?limit=1000").status, 200);
    expect_problem(call("GET", "/dags?limit=abc"), 400, "Bad Request", {"limit"});
    expect_problem(call("GET", "/dags?offset=-1"), 400, "Bad Request", {"offset"});
    expect_problem(call("GET", "/dags?paused=maybe"), 400, "Bad Request", {"paused"});
}

TEST_F(ApiTest, PatchIsPausedPausesAndUnpauses) {
    auto before = parse(call("GET", "/dags/toggle"));
    EXPECT_EQ(before["is_paused"], json::value(true));

    auto unpaused =
        call("PATCH", "/dags/toggle?update_mask=is_paused", R"({"is_paused":false})", "user");
    ASSERT_EQ(unpaused.status, 200) << unpaused.body;
    EXPECT_EQ(parse(unpaused)["is_paused"], json::value(false));
    EXPECT_EQ(parse(call("GET", "/dags/toggle"))["is_paused"], json::value(false));

    auto paused = call("PATCH", "/dags/toggle?update_mask=is_paused", R"({"is_paused":true})");
    ASSERT_EQ(paused.status, 200);
    EXPECT_EQ(parse(call("GET", "/dags/toggle"))["is_paused"], json::value(true));

    expect_problem(call("PATCH", "/dags/toggle?update_mask=description", R"({"is_paused":true})"),
                   400, "Bad Request", {"update_mask"});
    expect_problem(call("PATCH", "/dags/toggle", R"({"is_paused":"yes"})"), 400, "Bad Request",
                   {"is_paused"});
    expect_problem(call("PATCH", "/dags/nope", R"({"is_paused":true})"), 404, "Not Found");
}

TEST_F(ApiTest, DagShapesMatchWhatGeneratedClientsCheck) {
    auto cron = parse(call("GET", "/dags/cron_dag"));
    EXPECT_EQ(cron["schedule_interval"],
              json::parse(R"({"__type":"CronExpression","value":"0 6 * * 1-5"})"));
    EXPECT_TRUE(cron["next_dagrun"].is_string()) << json::serialize(cron);
    EXPECT_TRUE(cron["next_dagrun_create_after"].is_string());
    EXPECT_TRUE(cron["description"].is_null());
    EXPECT_EQ(cron["owners"], json::parse(R"(["airflow"])"));
    EXPECT_EQ(cron["has_import_errors"], json::value(false));
    EXPECT_TRUE(cron["max_active_runs"].is_int64());

    auto interval = parse(call("GET", "/dags/interval_dag"));
    EXPECT_EQ(interval["schedule_interval"],
              json::parse(R"({"__type":"TimeDelta","days":1,"seconds":0,"microseconds":0})"));

    auto quick = parse(call("GET", "/dags/quick/details"));
    EXPECT_EQ(quick["schedule_interval"], json::value(nullptr));
    EXPECT_TRUE(quick["next_dagrun"].is_null());
    EXPECT_EQ(quick["tags"], json::parse(R"([{"name":"api"},{"name":"fast"}])"));
    EXPECT_EQ(quick["owners"], json::parse(R"(["ana"])"));
    EXPECT_EQ(text(quick["description"]), "Two fast commands");
    EXPECT_EQ(quick["is_paused"], json::value(false));
    EXPECT_EQ(quick["catchup"], json::value(false));
    EXPECT_EQ(text(quick["timezone"]), "UTC");
    EXPECT_TRUE(quick["dag_run_timeout"].is_null());
    auto& count = quick["params"].as_object()["count"].as_object();
    EXPECT_EQ(count["value"], json::value(1));
    EXPECT_EQ(text(count["description"]), "how many");
    EXPECT_EQ(count["schema"].as_object()["minimum"], json::value(1));

    auto tasks = parse(call("GET", "/dags/cron_dag/tasks"));
    EXPECT_EQ(tasks["total_entries"], json::value(1));
    auto& task = tasks["tasks"].as_array()[0].as_object();
    EXPECT_EQ(task["retry_delay"],
              json::parse(R"({"__type":"TimeDelta","days":0,"seconds":60,"microseconds":0})"));
    EXPECT_EQ(task["execution_timeout"],
              json::parse(R"({"__type":"TimeDelta","days":0,"seconds":5400,"microseconds":0})"));
    EXPECT_EQ(task["retries"], json::value(2));
    EXPECT_EQ(text(task["trigger_rule"]), "all_success");
    EXPECT_EQ(text(task["class_ref"].as_object()["class_name"]), "CommandOperator");
    EXPECT_TRUE(task["class_ref"].as_object()["module_path"].is_string());
    EXPECT_EQ(text(task["ui_color"]).front(), '#');

    auto quick_tasks = parse(call("GET", "/dags/quick/tasks"));
    auto& first = quick_tasks["tasks"].as_array()[0].as_object();
    EXPECT_EQ(text(first["task_id"]), "first");
    EXPECT_EQ(first["downstream_task_ids"], json::parse(R"(["second"])"));
    EXPECT_EQ(first["retry_delay"],
              json::parse(R"({"__type":"TimeDelta","days":0,"seconds":90,"microseconds":0})"));
    EXPECT_TRUE(first["execution_timeout"].is_null());
}

// --- runs, task instances, XCom, logs ---------------------------------------------------------

TEST_F(ApiTest, RunSucceedsAndServesTaskInstancesXcomAndLogs) {
    ASSERT_EQ(trigger("quick", "served", R"({"count": 2})").status, 200);
    auto run = wait_for_run("quick", "served", "success");
    EXPECT_TRUE(run["end_date"].is_string());
    EXPECT_TRUE(run["start_date"].is_string());

    auto listed = parse(call("GET", "/dags/quick/dagRuns/served/taskInstances"));
    EXPECT_EQ(listed["total_entries"], json::value(2));
    for (const auto& item : listed["task_instances"].as_array()) {
        const auto& ti = item.as_object();
        EXPECT_EQ(text(ti.at("state")), "success");
        EXPECT_EQ(ti.at("try_number"), json::value(1));
        EXPECT_TRUE(ti.at("duration").is_number());
        EXPECT_EQ(ti.at("execution_date"), run["logical_date"]);
        EXPECT_EQ(text(ti.at("operator")), "CommandOperator");
    }

    auto xcoms = parse(call("GET", "/dags/quick/dagRuns/served/taskInstances/first/xcomEntries"));
    EXPECT_EQ(xcoms["total_entries"], json::value(1));
    auto xcom =
        call("GET", "/dags/quick/dagRuns/served/taskInstances/first/xcomEntries/return_value");
    ASSERT_EQ(xcom.status, 200) << xcom.body;
    auto entry = parse(xcom);
    EXPECT_EQ(text(entry["key"]), "return_value");
    // Airflow 2.8 types the value as a string: the JSON text of the output.
    ASSERT_TRUE(entry["value"].is_string()) << xcom.body;
    EXPECT_EQ(json::parse(text(entry["value"])), json::parse(R"({"n": 2})"));
    EXPECT_EQ(entry["map_index"], json::value(-1));
    auto native = parse(call(
        "GET",
        "/dags/quick/dagRuns/served/taskInstances/first/xcomEntries/return_value?stringify=false"));
    EXPECT_EQ(native["value"], json::parse(R"({"n": 2})"));
    auto deserialized = parse(call(
        "GET",
        "/dags/quick/dagRuns/served/taskInstances/first/xcomEntries/return_value?deserialize=true"));
    EXPECT_TRUE(deserialized["value"].is_string());
    expect_problem(
        call("GET",
             "/dags/quick/dagRuns/served/taskInstances/first/xcomEntries/return_value?stringify=x"),
        400, "Bad Request", {"stringify"});
    expect_problem(call("GET", "/dags/quick/dagRuns/served/taskInstances/first/xcomEntries/other"),
                   404, "Not Found");

    const std::string log_url = "/dags/quick/dagRuns/served/taskInstances/second/logs/1";
    auto log = call("GET", log_url, "", "admin", {{"Accept", "application/json"}});
    ASSERT_EQ(log.status, 200) << log.body;
    auto log_json = parse(log);
    const std::string content = text(log_json["content"]);
    EXPECT_NE(content.find("line-one"), std::string::npos) << content;
    EXPECT_NE(content.find("line-two"), std::string::npos) << content;
    EXPECT_EQ(base64_decode(text(log_json["continuation_token"])), std::to_string(content.size()));

    auto plain = call("GET", log_url, "", "admin", {{"Accept", "text/plain"}});
    ASSERT_EQ(plain.status, 200);
    EXPECT_EQ(plain.header("Content-Type").rfind("text/plain", 0), 0U);
    EXPECT_EQ(plain.body, content);

    // A token continues where it points: here, after the line holding line-one.
    const auto cut = content.find('\n', content.find("line-one")) + 1;
    auto tail = parse(call("GET", log_url + "?token=" + base64_encode(std::to_string(cut))));
    EXPECT_EQ(text(tail["content"]), content.substr(cut));
    EXPECT_EQ(tail["continuation_token"], log_json["continuation_token"]);
    auto at_end = parse(call("GET", log_url + "?token=" + text(log_json["continuation_token"])));
    EXPECT_EQ(text(at_end["content"]), "");
    auto full = parse(
        call("GET", log_url + "?full_content=true&token=" + base64_encode(std::to_string(cut))));
    EXPECT_EQ(text(full["content"]), content);

    expect_problem(call("GET", "/dags/quick/dagRuns/served/taskInstances/second/logs/2"), 404,
                   "Not Found", {"try 2"});
    expect_problem(call("GET", "/dags/quick/dagRuns/served/taskInstances/second/logs/0"), 400,
                   "Bad Request");

    // The same run through the list of every DAG's runs and a state filter.
    auto all = parse(call("GET", "/dags/~/dagRuns?state=success&limit=100"));
    bool seen = false;
    for (const auto& r : all["dag_runs"].as_array()) {
        EXPECT_EQ(text(r.as_object().at("state")), "success");
        seen = seen || text(r.as_object().at("dag_run_id")) == "served";
    }
    EXPECT_TRUE(seen);
    expect_problem(call("GET", "/dags/~/dagRuns?state=bogus"), 400, "Bad Request", {"state"});
    expect_problem(call("GET", "/dags/~/dagRuns?order_by=color"), 400, "Bad Request", {"order_by"});
}

TEST_F(ApiTest, DagRunsOfEveryDagAreListedWithTilde) {
    ASSERT_EQ(trigger("parked", "tilde_parked").status, 200);
    ASSERT_EQ(trigger("quick", "tilde_quick").status, 200);
    auto all = call("GET", "/dags/~/dagRuns?limit=100&order_by=-id");
    ASSERT_EQ(all.status, 200) << all.body;
    auto body = parse(all);
    std::set<std::string> dags;
    bool parked = false, quick = false;
    for (const auto& r : body["dag_runs"].as_array()) {
        const auto& run = r.as_object();
        dags.insert(text(run.at("dag_id")));
        parked = parked || text(run.at("dag_run_id")) == "tilde_parked";
        quick = quick || text(run.at("dag_run_id")) == "tilde_quick";
    }
    EXPECT_TRUE(parked && quick);
    EXPECT_GE(dags.size(), 2U);
    EXPECT_GE(body["total_entries"].as_int64(), 2);
    auto one = parse(call("GET", "/dags/~/dagRuns?limit=1"));
    EXPECT_EQ(one["dag_runs"].as_array().size(), 1U);
    EXPECT_EQ(one["total_entries"], body["total_entries"]);
    wait_for_run("quick", "tilde_quick", "success");
}

TEST_F(ApiTest, BatchListsTakeTheirFiltersInTheBody) {
    ASSERT_EQ(trigger("quick", "batch_quick").status, 200);
    ASSERT_EQ(trigger("failing", "batch_failing").status, 200);
    wait_for_run("quick", "batch_quick", "success");
    wait_for_run("failing", "batch_failing", "failed");

    auto runs = call("POST", "/dags/~/dagRuns/list",
                     R"({"dag_ids":["quick","failing"],"states":["failed"],"page_limit":100})");
    ASSERT_EQ(runs.status, 200) << runs.body;
    auto body = parse(runs);
    bool found = false;
    for (const auto& r : body["dag_runs"].as_array()) {
        EXPECT_EQ(text(r.at("dag_id")), "failing");
        EXPECT_EQ(text(r.at("state")), "failed");
        found = found || text(r.at("dag_run_id")) == "batch_failing";
    }
    EXPECT_TRUE(found) << runs.body;
    auto one = parse(call("POST", "/dags/~/dagRuns/list",
                          R"({"dag_ids":["quick"],"page_limit":1,"order_by":"-id"})"));
    ASSERT_EQ(one["dag_runs"].as_array().size(), 1U);
    EXPECT_GE(one["total_entries"].as_int64(), 1);
    expect_problem(call("POST", "/dags/~/dagRuns/list", R"({"states":["bogus"]})"), 400,
                   "Bad Request", {"states", "bogus"});
    expect_problem(call("POST", "/dags/~/dagRuns/list", R"({"colour":"red"})"), 400,
                   "Bad Request", {"colour"});
    expect_problem(call("POST", "/dags/~/dagRuns/list", R"({"page_limit":-1})"), 400,
                   "Bad Request", {"page_limit"});

    auto tis = call("POST", "/dags/~/dagRuns/~/taskInstances/list",
                    R"({"dag_ids":["failing"],"dag_run_ids":["batch_failing"],)"
                    R"("state":["failed","upstream_failed"]})");
    ASSERT_EQ(tis.status, 200) << tis.body;
    auto t = parse(tis);
    ASSERT_EQ(t["total_entries"], 2);
    EXPECT_EQ(text(t["task_instances"].as_array()[0].at("task_id")), "after");
    EXPECT_EQ(text(t["task_instances"].as_array()[0].at("state")), "upstream_failed");
    EXPECT_EQ(text(t["task_instances"].as_array()[1].at("task_id")), "bad");
    auto only_bad = parse(call("POST", "/dags/~/dagRuns/~/taskInstances/list",
                               R"({"dag_run_ids":["batch_failing"],"task_ids":["bad"],)"
                               R"("pool":["default_pool"]})"));
    EXPECT_EQ(only_bad["total_entries"], 1);
    expect_problem(call("POST", "/dags/~/dagRuns/~/taskInstances/list",
                        R"({"duration_gte":1.5})"),
                   400, "Bad Request", {"duration_gte", "not supported"});
    // A read: a Viewer may list, through POST.
    EXPECT_EQ(call("POST", "/dags/~/dagRuns/list", "{}", "viewer").status, 200);
    // Only for every DAG, as in Airflow: with a DAG id, "list" is a run id, which takes no POST.
    EXPECT_EQ(call("POST", "/dags/quick/dagRuns/list", "{}").status, 405);
}

TEST_F(ApiTest, RunningRunHasNullEndDateUnstartedTasksHaveNullStateAndCannotBeCleared) {
    ASSERT_EQ(trigger("slow", "napping").status, 200);
    auto run = wait_for_run("slow", "napping", "running");
    EXPECT_TRUE(run["end_date"].is_null());
    EXPECT_TRUE(run["start_date"].is_string());

    auto wake = task_instance("slow", "napping", "wake");
    EXPECT_TRUE(wake.contains("state"));
    EXPECT_TRUE(wake["state"].is_null()) << json::serialize(wake);
    EXPECT_TRUE(wake["start_date"].is_null());
    EXPECT_TRUE(wake["duration"].is_null());
    EXPECT_EQ(wake["try_number"], json::value(0));

    expect_problem(call("POST", "/dags/slow/dagRuns/napping/clear", R"({"dry_run": false})"), 409,
                   "Conflict", {"is running"});
    expect_problem(call("DELETE", "/dags/slow/dagRuns/napping"), 409, "Conflict");
    expect_problem(call("PATCH", "/dags/slow/dagRuns/napping", R"({"state":"success"})"), 409,
                   "Conflict");
    wait_for_run("slow", "napping", "success");
}

TEST_F(ApiTest, ClearOfAFinishedRunRunsItAgain) {
    ASSERT_EQ(trigger("quick", "again").status, 200);
    wait_for_run("quick", "again", "success");

    // dry_run defaults to true: lists, changes nothing.
    auto dry = call("POST", "/dags/quick/dagRuns/again/clear", "{}", "user");
    ASSERT_EQ(dry.status, 200) << dry.body;
    EXPECT_EQ(parse(dry)["task_instances"].as_array().size(), 2U);
    EXPECT_EQ(text(task_instance("quick", "again", "first")["state"]), "success");

    auto cleared = call("POST", "/dags/quick/dagRuns/again/clear", R"({"dry_run": false})", "user");
    ASSERT_EQ(cleared.status, 200) << cleared.body;
    EXPECT_EQ(text(parse(cleared)["state"]), "queued");
    auto run = wait_for_run("quick", "again", "success");
    auto first = task_instance("quick", "again", "first");
    EXPECT_EQ(text(first["state"]), "success");
    EXPECT_EQ(first["try_number"], json::value(2));
    auto log2 = call("GET", "/dags/quick/dagRuns/again/taskInstances/first/logs/2");
    ASSERT_EQ(log2.status, 200);
    EXPECT_NE(text(parse(log2)["content"]).find("try 2"), std::string::npos) << log2.body;
    EXPECT_EQ(call("POST", "/dags/quick/dagRuns/again/clear", "{}", "viewer").status, 403);
}

TEST_F(ApiTest, ClearTaskInstancesIsADryRunByDefault) {
    ASSERT_EQ(trigger("failing", "to_clear").status, 200);
    wait_for_run("failing", "to_clear", "failed");
    EXPECT_EQ(text(task_instance("failing", "to_clear", "bad")["state"]), "failed");
    EXPECT_EQ(text(task_instance("failing", "to_clear", "after")["state"]), "upstream_failed");

    auto dry = call("POST", "/dags/failing/clearTaskInstances", R"({"dag_run_id":"to_clear"})");
    ASSERT_EQ(dry.status, 200) << dry.body;
    auto listed = parse(dry)["task_instances"].as_array();
    ASSERT_EQ(listed.size(), 2U);
    for (const auto& ref : listed) {
        EXPECT_EQ(text(ref.as_object().at("dag_run_id")), "to_clear");
        EXPECT_TRUE(ref.as_object().at("execution_date").is_string());
    }
    // Nothing changed.
    EXPECT_EQ(text(task_instance("failing", "to_clear", "bad")["state"]), "failed");
    EXPECT_EQ(text(wait_for_run("failing", "to_clear", "failed")["state"]), "failed");

    // Only the named task and, with include_downstream, what depends on it.
    auto only_bad = parse(call("POST", "/dags/failing/clearTaskInstances",
                               R"({"dag_run_id":"to_clear","task_ids":["bad"]})"));
    EXPECT_EQ(only_bad["task_instances"].as_array().size(), 1U);
    auto with_down = parse(call("POST", "/dags/failing/clearTaskInstances",
                                R"({"dag_run_id":"to_clear","task_ids":["bad"],)"
                                R"("include_downstream":true})"));
    EXPECT_EQ(with_down["task_instances"].as_array().size(), 2U);
    expect_problem(call("POST", "/dags/failing/clearTaskInstances",
                        R"({"dag_run_id":"to_clear","task_ids":["ghost"]})"),
                   400, "Bad Request", {"ghost"});

    // For real: the run goes back to queued and fails again, on a second try.
    auto real = call("POST", "/dags/failing/clearTaskInstances",
                     R"({"dag_run_id":"to_clear","dry_run":false})");
    ASSERT_EQ(real.status, 200) << real.body;
    EXPECT_EQ(parse(real)["task_instances"].as_array().size(), 2U);
    wait_for_run("failing", "to_clear", "failed");
    EXPECT_EQ(task_instance("failing", "to_clear", "bad")["try_number"], json::value(2));
}

TEST_F(ApiTest, UpdateTaskInstancesStateMarksAndResumesTheRun) {
    ASSERT_EQ(trigger("failing", "to_mark").status, 200);
    wait_for_run("failing", "to_mark", "failed");

    const std::string body = R"({"dag_run_id":"to_mark","task_id":"bad","new_state":"success")";
    // dry_run defaults to true.
    auto dry = call("POST", "/dags/failing/updateTaskInstancesState", body + "}", "user");
    ASSERT_EQ(dry.status, 200) << dry.body;
    EXPECT_EQ(parse(dry)["task_instances"].as_array().size(), 1U);
    EXPECT_EQ(text(task_instance("failing", "to_mark", "bad")["state"]), "failed");

    auto marked = call("POST", "/dags/failing/updateTaskInstancesState",
                       body + R"(,"dry_run":false})", "user");
    ASSERT_EQ(marked.status, 200) << marked.body;
    auto refs = parse(marked)["task_instances"].as_array();
    ASSERT_EQ(refs.size(), 1U);
    EXPECT_EQ(text(refs[0].as_object().at("task_id")), "bad");
    EXPECT_EQ(text(task_instance("failing", "to_mark", "bad")["state"]), "success");
    // `after` was upstream_failed: it is cleared and runs, so the run ends in success.
    wait_for_run("failing", "to_mark", "success");
    EXPECT_EQ(text(task_instance("failing", "to_mark", "after")["state"]), "success");

    expect_problem(call("POST", "/dags/failing/updateTaskInstancesState",
                        R"({"dag_run_id":"to_mark","task_id":"bad","new_state":"running"})"),
                   400, "Bad Request", {"new_state"});
    expect_problem(
        call("POST", "/dags/failing/updateTaskInstancesState",
             R"({"dag_run_id":"to_mark","task_id":"bad","new_state":"failed"})", "viewer"),
        403, "Forbidden");
}

TEST_F(ApiTest, PatchAndDeleteAFinishedRun) {
    ASSERT_EQ(trigger("quick", "to_delete").status, 200);
    wait_for_run("quick", "to_delete", "success");
    auto failed = call("PATCH", "/dags/quick/dagRuns/to_delete", R"({"state":"failed"})", "user");
    ASSERT_EQ(failed.status, 200) << failed.body;
    EXPECT_EQ(text(parse(failed)["state"]), "failed");
    expect_problem(call("PATCH", "/dags/quick/dagRuns/to_delete", R"({"state":"done"})"), 400,
                   "Bad Request", {"state"});

    auto deleted = call("DELETE", "/dags/quick/dagRuns/to_delete", "", "user");
    EXPECT_EQ(deleted.status, 204) << deleted.body;
    EXPECT_TRUE(deleted.body.empty());
    expect_problem(call("GET", "/dags/quick/dagRuns/to_delete"), 404, "Not Found");
    expect_problem(call("DELETE", "/dags/quick/dagRuns/to_delete"), 404, "Not Found");

    // A queued run belongs to the scheduler.
    ASSERT_EQ(trigger("parked", "stays").status, 200);
    expect_problem(call("DELETE", "/dags/parked/dagRuns/stays"), 409, "Conflict", {"queued"});
}

TEST_F(ApiTest, ImportErrorsListTheBrokenFileWithItsLine) {
    auto reply = call("GET", "/importErrors", "", "viewer");
    ASSERT_EQ(reply.status, 200) << reply.body;
    auto body = parse(reply);
    EXPECT_EQ(body["total_entries"], json::value(1));
    auto& error = body["import_errors"].as_array()[0].as_object();
    EXPECT_NE(text(error["filename"]).find("broken.yaml"), std::string::npos);
    EXPECT_NE(text(error["stack_trace"]).find("broken.yaml:4:"), std::string::npos)
        << text(error["stack_trace"]);
    EXPECT_NE(text(error["stack_trace"]).find("comand"), std::string::npos);
    EXPECT_TRUE(error["import_error_id"].is_int64());
    EXPECT_TRUE(error["timestamp"].is_string());
    auto one = call("GET", "/importErrors/" + text(error["import_error_id"]));
    EXPECT_EQ(one.status, 200);
    EXPECT_EQ(call("GET", "/importErrors/999999").status, 404);
}

TEST_F(ApiTest, CachedCredentialsMakeRepeatedRequestsCheap) {
    ASSERT_EQ(call("GET", "/version", "", "viewer").status, 200);
    ASSERT_EQ(call("GET", "/dags/parked", "", "viewer").status, 200);  // verified and cached
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 40; ++i) ASSERT_EQ(call("GET", "/dags/parked", "", "viewer").status, 200);
    // 40 argon2id checks alone would take well over a second.
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

// --- request bodies must be JSON (CSRF) --------------------------------------------------------

TEST_F(ApiTest, RequestBodiesThatAreNotJsonAre415) {
    const std::string body = R"({"dag_run_id":"csrf","conf":{}})";
    // What a cross-site form or fetch() may send without asking first, and no type at all.
    for (std::string type : {"text/plain", "text/plain; charset=utf-8",
                             "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                             "application/xml", ""}) {
        std::vector<std::pair<std::string, std::string>> headers{auth("admin")};
        if (!type.empty()) headers.emplace_back("Content-Type", type);
        auto reply = testing::request(env->port, "POST", "/api/v1/dags/parked/dagRuns", body,
                                      headers);
        expect_problem(reply, 415, "Unsupported Media Type", {"application/json"});
        // Nothing was checked or done: no credentials needed to be refused, and no run.
        auto anonymous = testing::request(env->port, "PATCH", "/api/v1/dags/toggle",
                                          R"({"is_paused":false})",
                                          {{"Content-Type", type.empty() ? "x/y" : type}});
        EXPECT_EQ(anonymous.status, 415) << type;
    }
    expect_problem(call("GET", "/dags/parked/dagRuns/csrf"), 404, "Not Found");

    // JSON with parameters, in any case, and the +json structured suffix are accepted.
    auto charset = testing::request(
        env->port, "POST", "/api/v1/dags/parked/dagRuns", body,
        {auth("admin"), {"Content-Type", "Application/JSON; charset=UTF-8"}});
    EXPECT_EQ(charset.status, 200) << charset.body;
    auto merge = testing::request(
        env->port, "PATCH", "/api/v1/dags/toggle", R"({"is_paused":true})",
        {auth("admin"), {"Content-Type", "application/merge-patch+json"}});
    EXPECT_EQ(merge.status, 200) << merge.body;
    // A request without a body needs no Content-Type.
    EXPECT_EQ(testing::request(env->port, "DELETE", "/api/v1/dags/parked/dagRuns/nothing-here",
                               "", {auth("admin")})
                  .status,
              404);
}

// --- slowing down password guessing -------------------------------------------------------------

// A second ApiServer over the suite's node, on a FakeClock and with the given limits, behind
// its own HTTP server.
class ThrottledApi {
  public:
    ThrottledApi(const Clock& clock, ApiOptions options) {
        options.clock = &clock;
        api_ = std::make_unique<ApiServer>(env->node->engine(), env->node->store(),
                                           env->node->loop(), options);
        server_ = std::make_unique<http::HttpServer>(io_.io(), http::ServerOptions{},
                                                     api_->handler());
        auto port = server_->start();
        EXPECT_TRUE(port);
        port_ = port ? *port : 0;
    }
    ~ThrottledApi() {
        server_->stop();
        io_.stop();  // joins: no request holds the API any more
        server_.reset();
        api_.reset();
    }
    Reply get(const std::string& user, const std::string& password,
              const std::string& target = "/dags/parked") const {
        return testing::request(
            port_, "GET", "/api/v1" + target, "",
            {{"Authorization", "Basic " + base64_encode(user + ":" + password)}});
    }

  private:
    testing::IoThreads io_{2};
    std::unique_ptr<ApiServer> api_;
    std::unique_ptr<http::HttpServer> server_;
    std::uint16_t port_ = 0;
};

TEST_F(ApiTest, WrongPasswordsAreAnswered429AfterFiveAndOtherUsersStayFast) {
    FakeClock clock;
    ThrottledApi api(clock, ApiOptions{});
    for (int i = 0; i < 5; ++i) {
        expect_problem(api.get("viewer", "guess-" + std::to_string(i)), 401, "Unauthorized");
    }
    // The sixth guess is not even checked: 429, Retry-After, a reason.
    auto slowed = api.get("viewer", "guess-5");
    expect_problem(slowed, 429, "Too Many Requests", {"too many failed logins"});
    EXPECT_EQ(slowed.header("Retry-After"), "1");
    // Neither is the right password while the delay runs.
    EXPECT_EQ(api.get("viewer", "viewer-secret").status, 429);

    // Another user logs in at once, and quickly.
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(api.get("admin", "admin-secret").status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);

    // Once the delay has passed, the right password works and clears the count.
    clock.advance(999);
    EXPECT_EQ(api.get("viewer", "viewer-secret").status, 429);
    clock.advance(1);
    EXPECT_EQ(api.get("viewer", "viewer-secret").status, 200);
    EXPECT_EQ(api.get("viewer", "another-guess").status, 401);
    EXPECT_EQ(api.get("viewer", "and-another").status, 401);
}

TEST_F(ApiTest, TheDelayDoublesWithEachFailureAfterItEnds) {
    FakeClock clock;
    ThrottledApi api(clock, ApiOptions{});
    for (int i = 0; i < 5; ++i) ASSERT_EQ(api.get("user", "nope").status, 401);
    clock.advance(1000);
    EXPECT_EQ(api.get("user", "nope").status, 401);  // checked: the sixth failure
    auto second = api.get("user", "nope");
    EXPECT_EQ(second.status, 429);
    EXPECT_EQ(second.header("Retry-After"), "2");
    clock.advance(2000);
    EXPECT_EQ(api.get("user", "nope").status, 401);  // the seventh
    EXPECT_EQ(api.get("user", "user-secret").header("Retry-After"), "4");
    clock.advance(4000);
    EXPECT_EQ(api.get("user", "user-secret").status, 200);
}

TEST_F(ApiTest, ManyFailuresFromOneAddressSlowItDownButCachedLoginsPass) {
    FakeClock clock;
    ApiOptions options;
    options.login_throttle.free_failures_per_address = 6;
    ThrottledApi api(clock, options);
    ASSERT_EQ(api.get("admin", "admin-secret").status, 200);  // verified, then cached
    // Six usernames, one guess each: no username is slowed down, the address is.
    for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(api.get("ghost" + std::to_string(i), "x").status, 401) << i;
    }
    auto slowed = api.get("ghost6", "x");
    expect_problem(slowed, 429, "Too Many Requests", {"address"});
    EXPECT_EQ(slowed.header("Retry-After"), "1");
    EXPECT_EQ(api.get("user", "user-secret").status, 429);  // would need a check: waits too
    EXPECT_EQ(api.get("admin", "admin-secret").status, 200);  // cached: no check needed
    clock.advance(1000);
    EXPECT_EQ(api.get("user", "user-secret").status, 200);
}

TEST_F(ApiTest, PasswordChecksBeyondTheLimitWaitBrieflyThenAre503) {
    FakeClock clock;
    ApiOptions options;
    options.max_password_checks = 1;
    options.password_check_wait = 300ms;  // the one turned away waits this long first
    ThrottledApi api(clock, options);
    // Hold the engine loop, where a login looks its user up: the first login to get in holds
    // the only slot until the loop is released.
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    boost::asio::post(env->node->loop(), [released] { released.wait(); });
    auto a = std::async(std::launch::async, [&] { return api.get("nobody-a", "x"); });
    auto b = std::async(std::launch::async, [&] { return api.get("nobody-b", "x"); });
    // Exactly one of them is turned away (after its short wait), while the other waits for
    // its check.
    std::optional<Reply> first;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!first && std::chrono::steady_clock::now() < deadline) {
        if (a.wait_for(10ms) == std::future_status::ready) {
            first = a.get();
        } else if (b.wait_for(0ms) == std::future_status::ready) {
            first = b.get();
        }
    }
    release.set_value();
    ASSERT_TRUE(first);
    expect_problem(*first, 503, "Service Unavailable", {"try again"});
    EXPECT_EQ(first->header("Retry-After"), "1");
    const Reply second = a.valid() ? a.get() : b.get();
    EXPECT_EQ(second.status, 401) << second.body;
    // The slot is free again.
    EXPECT_EQ(api.get("admin", "admin-secret").status, 200);
}

TEST_F(ApiTest, ABurstOfNewCredentialsFromOneAddressWaitsForTheFirstCheck) {
    FakeClock clock;
    ApiOptions options;
    options.password_check_wait = 20s;  // only a bound: the first check ends long before
    ThrottledApi api(clock, options);
    // One address may run one check at a time; the others wait for it, then find the
    // credentials cached instead of checking them again (or being turned away).
    std::vector<std::future<Reply>> burst;
    for (int i = 0; i < 6; ++i) {
        burst.push_back(
            std::async(std::launch::async, [&] { return api.get("user", "user-secret"); }));
    }
    for (auto& f : burst) EXPECT_EQ(f.get().status, 200);
}

// --- what is not served, the OpenAPI document -------------------------------------------------

TEST_F(ApiTest, PathsOrquestraDoesNotServeAre404ProblemsSayingSo) {
    for (const char* path :
         {"/providers", "/variables/x/y", "/dags/quick/dagRuns/r/taskInstances/t/x/y", "/plugins",
          "/datasets", "/", "/dags/quick/dagRuns/r/foo/bar/baz"}) {
        auto reply = call("GET", path);
        expect_problem(reply, 404, "Not Found", {"does not serve", "openapi.json"});
    }
    // Even without credentials, and for any method.
    expect_problem(call("DELETE", "/providers/x", "", ""), 404, "Not Found",
                   {"does not serve"});
    // A served path with another method is 405 with Allow.
    auto wrong = call("DELETE", "/dags/quick/details");
    expect_problem(wrong, 405, "Method Not Allowed");
    EXPECT_EQ(wrong.header("Allow"), "GET");
    // The top of the API itself.
    auto top = testing::request(env->port, "GET", "/api/v1", "", {auth("admin")});
    EXPECT_EQ(top.status, 404);
    EXPECT_EQ(top.header("Content-Type"), "application/problem+json");
}

TEST_F(ApiTest, OpenApiDocumentListsExactlyWhatIsServed) {
    auto reply = call("GET", "/openapi.json", "", "");  // public, like /version
    ASSERT_EQ(reply.status, 200) << reply.body;
    auto doc = parse(reply);
    EXPECT_EQ(text(doc["openapi"]), "3.0.3");
    EXPECT_EQ(text(doc["info"].as_object().at("version")), "9.8.7");
    const auto& paths = doc["paths"].as_object();
    EXPECT_TRUE(paths.contains("/dags/~/dagRuns/list"));
    EXPECT_TRUE(paths.contains("/eventLogs"));
    EXPECT_TRUE(paths.contains("/pools/{pool_name}"));
    EXPECT_FALSE(paths.contains("/providers"));
    // Every documented operation is served: with made-up parameters it may find nothing (a
    // 404 about the thing) but is never "not served" nor a 405.
    int operations = 0;
    for (const auto& [path, item] : paths) {
        std::string target;
        for (auto segment : split(path, '/')) {
            if (segment.empty()) continue;
            target += "/";
            target += segment.starts_with('{') ? std::string("zz_none") : std::string(segment);
        }
        for (const auto& [method, op] : item.as_object()) {
            const std::string verb = to_upper(method);
            if (verb == "DELETE" && target.starts_with("/ui/session")) continue;  // logs out
            auto got = call(verb, target, verb == "GET" || verb == "DELETE" ? "" : "{\"zz\":1}");
            EXPECT_NE(got.status, 405) << verb << " " << target << ": " << got.body;
            EXPECT_EQ(got.body.find("does not serve"), std::string::npos)
                << verb << " " << target << ": " << got.body;
            EXPECT_TRUE(op.as_object().contains("operationId"));
            ++operations;
        }
    }
    EXPECT_GT(operations, 40);
}

// --- XCom values, batch lists ----------------------------------------------------------------

TEST_F(ApiTest, BatchListsFilterByDatesAndOrder) {
    ASSERT_EQ(trigger("quick", "batch_a").status, 200);
    wait_for_run("quick", "batch_a", "success");
    auto listed = parse(call("POST", "/dags/~/dagRuns/list",
                             R"({"dag_ids":["quick"],"order_by":"-execution_date",
                                 "start_date_gte":"2000-01-01T00:00:00+00:00",
                                 "end_date_lte":"2999-01-01T00:00:00+00:00","page_limit":1})"));
    ASSERT_EQ(listed["dag_runs"].as_array().size(), 1U);
    EXPECT_GE(listed["total_entries"].as_int64(), 1);
    auto future = parse(call("POST", "/dags/~/dagRuns/list",
                             R"({"start_date_gte":"2999-01-01T00:00:00+00:00"})"));
    EXPECT_EQ(future["total_entries"], json::value(0));
    expect_problem(call("POST", "/dags/~/dagRuns/list", R"({"dag_ids":"quick"})"), 400,
                   "Bad Request", {"dag_ids"});
    expect_problem(call("POST", "/dags/~/dagRuns/list", R"({"start_date_gte":"yesterday"})"), 400,
                   "Bad Request", {"start_date_gte"});
    expect_problem(call("POST", "/dags/~/dagRuns/list", R"({"order_by":"colour"})"), 400,
                   "Bad Request", {"order_by"});
    auto tis = parse(call("POST", "/dags/~/dagRuns/~/taskInstances/list",
                          R"({"dag_ids":["quick"],"dag_run_ids":["batch_a"],
                              "task_ids":["second"],"state":["success"],"pool":["default_pool"]})"));
    ASSERT_EQ(tis["total_entries"], json::value(1)) << json::serialize(tis);
    EXPECT_EQ(text(tis["task_instances"].as_array()[0].as_object().at("task_id")), "second");
    expect_problem(call("POST", "/dags/~/dagRuns/~/taskInstances/list", R"({"state":"success"})"),
                   400, "Bad Request", {"state"});
    expect_problem(call("POST", "/dags/~/dagRuns/~/taskInstances/list", R"({"page_offset":"1"})"),
                   400, "Bad Request", {"page_offset"});
}

// --- users, roles, config --------------------------------------------------------------------

TEST_F(ApiTest, UsersAndRolesAreAdminOnly) {
    for (const char* user : {"viewer", "user"}) {
        expect_problem(call("GET", "/users", "", user), 403, "Forbidden", {"Admin"});
        expect_problem(call("GET", "/roles", "", user), 403, "Forbidden");
        expect_problem(call("GET", "/config", "", user), 403, "Forbidden");
    }
    expect_problem(call("GET", "/users", "", ""), 401, "Unauthorized");
}

TEST_F(ApiTest, AdminCreatesReadsUpdatesAndDeletesAUser) {
    auto created = call("POST", "/users",
                        R"({"username":"rita","password":"rita-pass-1","email":"rita@example.com",
                            "first_name":"Rita","last_name":"Lee","roles":[{"name":"Viewer"}]})");
    ASSERT_EQ(created.status, 200) << created.body;
    auto user = parse(created);
    EXPECT_EQ(text(user["username"]), "rita");
    EXPECT_FALSE(user.contains("password"));
    EXPECT_EQ(created.body.find("argon2"), std::string::npos);
    EXPECT_EQ(user["roles"], json::parse(R"([{"name":"Viewer"}])"));
    EXPECT_TRUE(user["created_on"].is_string());
    EXPECT_EQ(user["active"], json::value(true));
    // The new user logs in.
    auto as_rita = testing::request(
        env->port, "GET", "/api/v1/dags", "",
        {{"Authorization", "Basic " + base64_encode("rita:rita-pass-1")}});
    EXPECT_EQ(as_rita.status, 200);

    auto listed = parse(call("GET", "/users"));
    EXPECT_GE(listed["total_entries"].as_int64(), 4);
    EXPECT_EQ(listed.at("users").as_array().size(),
              static_cast<std::size_t>(listed["total_entries"].as_int64()));
    EXPECT_EQ(call("GET", "/users/rita").status, 200);
    expect_problem(call("POST", "/users",
                        R"({"username":"rita","password":"x","email":"r@e","first_name":"R",
                            "last_name":"L"})"),
                   409, "Conflict", {"rita"});

    auto patched = call("PATCH", "/users/rita?update_mask=roles,last_name",
                        R"({"roles":[{"name":"User"}],"last_name":"Jones","email":"ignored@x"})");
    ASSERT_EQ(patched.status, 200) << patched.body;
    auto changed = parse(patched);
    EXPECT_EQ(changed["roles"], json::parse(R"([{"name":"User"}])"));
    EXPECT_EQ(text(changed["last_name"]), "Jones");
    EXPECT_EQ(text(changed["email"]), "rita@example.com");
    // A new password takes effect at once (cached credentials are dropped).
    ASSERT_EQ(call("PATCH", "/users/rita", R"({"password":"rita-pass-2"})").status, 200);
    EXPECT_EQ(testing::request(env->port, "GET", "/api/v1/dags", "",
                               {{"Authorization", "Basic " + base64_encode("rita:rita-pass-2")}})
                  .status,
              200);

    auto removed = call("DELETE", "/users/rita");
    EXPECT_EQ(removed.status, 204) << removed.body;
    expect_problem(call("GET", "/users/rita"), 404, "Not Found", {"rita"});
    expect_problem(call("DELETE", "/users/rita"), 404, "Not Found");
}

TEST_F(ApiTest, BadUserBodiesAre400AndTheLastAdminStays) {
    expect_problem(call("POST", "/users", R"({"username":"x"})"), 400, "Bad Request",
                   {"email"});
    expect_problem(call("POST", "/users",
                        R"({"username":"x y","password":"p","email":"e","first_name":"f",
                            "last_name":"l"})"),
                   400, "Bad Request", {"username"});
    expect_problem(call("POST", "/users",
                        R"({"username":"xy","password":"p","email":"e","first_name":"f",
                            "last_name":"l","roles":[{"name":"Public"}]})"),
                   400, "Bad Request", {"Public"});
    expect_problem(call("POST", "/users",
                        R"({"username":"xy","password":"p","email":"e","first_name":"f",
                            "last_name":"l","colour":"red"})"),
                   400, "Bad Request", {"colour"});
    expect_problem(call("POST", "/users", R"({"username":5})"), 400, "Bad Request",
                   {"username"});
    expect_problem(call("PATCH", "/users/viewer", R"({"username":"other"})"), 400, "Bad Request",
                   {"username"});
    expect_problem(call("PATCH", "/users/viewer?update_mask=username", R"({})"), 400,
                   "Bad Request", {"update_mask"});
    expect_problem(call("PATCH", "/users/admin", R"({"roles":[{"name":"Viewer"}]})"), 409,
                   "Conflict", {"last Admin"});
    expect_problem(call("DELETE", "/users/admin"), 409, "Conflict", {"last Admin"});
    EXPECT_EQ(call("GET", "/users/admin").status, 200);
}

TEST_F(ApiTest, RolesAreAirflowsFourWithTheirActions) {
    auto roles = parse(call("GET", "/roles"));
    EXPECT_EQ(roles["total_entries"], json::value(4));
    std::vector<std::string> names;
    for (const auto& r : roles["roles"].as_array()) names.push_back(text(r.as_object().at("name")));
    EXPECT_EQ(names, (std::vector<std::string>{"Admin", "Op", "User", "Viewer"}));
    auto viewer = parse(call("GET", "/roles/Viewer"));
    const auto viewer_actions = json::serialize(viewer["actions"]);
    EXPECT_NE(viewer_actions.find("can_read"), std::string::npos);
    EXPECT_EQ(viewer_actions.find("can_edit"), std::string::npos);
    auto admin = json::serialize(parse(call("GET", "/roles/Admin"))["actions"]);
    EXPECT_NE(admin.find("Users"), std::string::npos);
    expect_problem(call("GET", "/roles/Public"), 404, "Not Found", {"Public"});
    EXPECT_EQ(call("POST", "/roles", R"({"name":"Extra"})").status, 405);
}

TEST_F(ApiTest, ConfigShowsSectionsButNeverASecret) {
    auto reply = call("GET", "/config");
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.body.find("do-not-show-me"), std::string::npos) << reply.body;
    EXPECT_EQ(reply.body.find("pg-pass-123"), std::string::npos) << reply.body;
    auto config = parse(reply);
    const auto& sections = config["sections"].as_array();
    ASSERT_EQ(sections.size(), 2U);
    EXPECT_EQ(text(sections[0].as_object().at("name")), "core");
    const auto& db = sections[1].as_object().at("options").as_array()[0].as_object();
    EXPECT_EQ(text(db.at("key")), "sql_alchemy_conn");
    EXPECT_EQ(text(db.at("value")), "postgresql://orq:***@db.local:5432/orq");
    auto secret = parse(call("GET", "/config/section/core/option/secret_key"));
    EXPECT_EQ(text(secret["sections"].as_array()[0].as_object().at("options").as_array()[0]
                       .as_object()
                       .at("value")),
              "< hidden >");
    auto plain = call("GET", "/config?section=database", "", "admin", {{"Accept", "text/plain"}});
    ASSERT_EQ(plain.status, 200);
    EXPECT_NE(plain.body.find("[database]"), std::string::npos) << plain.body;
    EXPECT_EQ(plain.body.find("[core]"), std::string::npos) << plain.body;
    EXPECT_EQ(plain.body.find("pg-pass-123"), std::string::npos);
    expect_problem(call("GET", "/config?section=nope"), 404, "Not Found", {"nope"});
    expect_problem(call("GET", "/config/section/core/option/nope"), 404, "Not Found", {"nope"});
}

// --- the audit log ---------------------------------------------------------------------------

TEST_F(ApiTest, EventLogsRecordChangesWithUserAndTime) {
    const auto before = parse(call("GET", "/eventLogs?limit=0"))["total_entries"].as_int64();
    ASSERT_EQ(trigger("quick", "audited", "{}", "user").status, 200);
    wait_for_run("quick", "audited", "success");
    ASSERT_EQ(call("POST", "/dags/quick/dagRuns/audited/clear", R"({"dry_run":false})").status,
              200);
    wait_for_run("quick", "audited", "success");
    ASSERT_EQ(call("POST", "/dags/quick/updateTaskInstancesState",
                   R"({"dry_run":false,"dag_run_id":"audited","task_id":"second",
                       "new_state":"failed"})")
                  .status,
              200);
    ASSERT_EQ(call("PATCH", "/dags/toggle?update_mask=is_paused", R"({"is_paused":true})").status,
              200);
    ASSERT_EQ(call("DELETE", "/dags/quick/dagRuns/audited").status, 204);
    // A failed login is recorded under the name tried.
    EXPECT_EQ(call("GET", "/dags", "", "", {{"Authorization", "Basic " + base64_encode("mallory:x")}})
                  .status,
              401);

    auto logs = parse(call("GET", "/eventLogs?order_by=event_log_id&offset=" +
                                  std::to_string(before)));
    std::vector<std::string> seen;
    for (const auto& item : logs["event_logs"].as_array()) {
        const auto& e = item.as_object();
        EXPECT_TRUE(e.at("when").is_string());
        EXPECT_TRUE(e.at("event_log_id").is_int64());
        seen.push_back(text(e.at("event")) + ":" + text(e.at("owner")) + ":" +
                       text(e.at("dag_id")) + ":" + text(e.at("run_id")));
    }
    auto has = [&seen](const std::string& what) {
        return std::find(seen.begin(), seen.end(), what) != seen.end();
    };
    EXPECT_TRUE(has("trigger:user:quick:audited")) << json::serialize(logs);
    EXPECT_TRUE(has("clear:admin:quick:audited")) << json::serialize(logs);
    EXPECT_TRUE(has("mark:admin:quick:audited")) << json::serialize(logs);
    EXPECT_TRUE(has("pause:admin:toggle:null")) << json::serialize(logs);
    EXPECT_TRUE(has("delete:admin:quick:audited")) << json::serialize(logs);
    EXPECT_TRUE(has("login_failed:mallory:null:null")) << json::serialize(logs);

    auto triggers = parse(call("GET", "/eventLogs?event=trigger&dag_id=quick&run_id=audited"));
    ASSERT_EQ(triggers["total_entries"], json::value(1));
    const auto& entry = triggers["event_logs"].as_array()[0].as_object();
    auto one = parse(call("GET", "/eventLogs/" + text(entry.at("event_log_id"))));
    EXPECT_EQ(one, entry);
    EXPECT_NE(text(entry.at("extra")).find("logical_date"), std::string::npos);
    auto marks = parse(call("GET", "/eventLogs?included_events=mark&run_id=audited&order_by=-when"));
    EXPECT_EQ(marks["total_entries"], json::value(1));
    EXPECT_EQ(text(marks["event_logs"].as_array()[0].as_object().at("task_id")), "second");
    auto not_login = parse(call("GET", "/eventLogs?excluded_events=login_failed&owner=mallory"));
    EXPECT_EQ(not_login["total_entries"], json::value(0));
    // A Viewer reads the audit log too.
    EXPECT_EQ(call("GET", "/eventLogs", "", "viewer").status, 200);

    expect_problem(call("GET", "/eventLogs/abc"), 400, "Bad Request", {"event_log_id"});
    expect_problem(call("GET", "/eventLogs/999999999"), 404, "Not Found");
    expect_problem(call("GET", "/eventLogs?order_by=extra"), 400, "Bad Request", {"order_by"});
    expect_problem(call("GET", "/eventLogs?after=soon"), 400, "Bad Request", {"after"});
}

}  // namespace
}  // namespace orquestra::api
