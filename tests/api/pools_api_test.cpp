// /api/v1/pools over real HTTP: a real HttpServer on 127.0.0.1:0 serving ApiServer in front of
// a real WorkflowNode (temporary home, SQLite): Airflow 2.8's shapes, the slot counts of the
// task instances in each pool, paging, roles (Op and Admin only), the audit log, and clear 400s
// for a pool of 0 slots, a bad name, or deleting default_pool.

#include "api/api.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <string>

#include "api/users.hpp"
#include "app/workflow_node.hpp"
#include "core/strings.hpp"
#include "test_http.hpp"

namespace orquestra::api {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::Reply;

constexpr const char* kPoolDag = R"(
dag_id: pooled
tasks:
  heavy_task: {command: ["true"], pool: heavy, pool_slots: 2}
  light_task: {command: ["true"]}
)";

class NoServices final : public discovery::ServiceDirectory {
public:
    std::vector<discovery::ServiceInstance> up_instances(const std::string&) override { return {}; }
    void subscribe(std::function<void(const std::string&)>) override {}
};

struct PoolsEnv {
    fs::path home;
    testing::IoThreads api_io{1};
    NoServices directory;
    http::IoPool pool{1};
    std::unique_ptr<app::WorkflowNode> node;
    std::unique_ptr<ApiServer> api;
    std::unique_ptr<http::HttpServer> server;
    std::uint16_t port = 0;
};

PoolsEnv* penv = nullptr;

class PoolsApiTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        penv = new PoolsEnv;
        std::random_device rd;
        penv->home = fs::temp_directory_path() / ("orquestra-pools-api-" +
                                                  std::to_string(::getpid()) + "-" +
                                                  std::to_string(rd()));
        fs::create_directories(penv->home / "dags");
        std::ofstream(penv->home / "dags" / "pooled.yaml") << kPoolDag;
        penv->pool.start();
        app::HomePaths paths{penv->home, penv->home / "dags", penv->home / "orquestra.db",
                             penv->home / "logs"};
        penv->node = std::make_unique<app::WorkflowNode>(paths, penv->directory, penv->pool,
                                                         SystemClock::instance(),
                                                         scheduler::EngineOptions{});
        auto started = penv->node->start();
        ASSERT_TRUE(started) << started.error().message;
        for (auto [name, role] : {std::pair{"admin", "Admin"}, std::pair{"op", "Op"},
                                  std::pair{"viewer", "Viewer"}, std::pair{"user", "User"}}) {
            auto created = create_user(penv->node->store(),
                                       UserSpec{name, std::string(name) + "-pw", role, "", "", ""});
            ASSERT_TRUE(created) << created.error().message;
        }
        penv->api = std::make_unique<ApiServer>(penv->node->engine(), penv->node->store(),
                                                penv->node->loop(), ApiOptions{});
        penv->server = std::make_unique<http::HttpServer>(penv->api_io.io(), http::ServerOptions{},
                                                          penv->api->handler());
        auto port = penv->server->start();
        ASSERT_TRUE(port) << port.error().message;
        penv->port = *port;
    }

    static void TearDownTestSuite() {
        if (penv == nullptr) return;
        if (penv->server) {
            penv->server->stop();
            std::promise<void> closed;
            boost::asio::post(penv->api_io.io(), [&closed] { closed.set_value(); });
            closed.get_future().wait();
        }
        penv->api_io.stop();
        penv->server.reset();
        penv->api.reset();
        penv->pool.stop();
        penv->node.reset();
        std::error_code ec;
        fs::remove_all(penv->home, ec);
        delete penv;
        penv = nullptr;
    }

    void SetUp() override {
        ASSERT_NE(penv, nullptr);
        store::Store& store = penv->node->store();
        for (const auto& p : store.list_pools(1000, 0).value().items) {
            if (p.name != "default_pool") {
                ASSERT_TRUE(store.delete_pool(p.name));
            }
        }
        ASSERT_TRUE(store.put_pool(store::Pool{"default_pool", 128, "Default pool", false},
                                   store::PutMode::kUpdate));
    }

    static store::Store& store_() { return penv->node->store(); }

    Reply call(const std::string& method, const std::string& target, const std::string& body = "",
               const std::string& user = "admin") {
        std::vector<std::pair<std::string, std::string>> headers;
        headers.emplace_back("Authorization", "Basic " + base64_encode(user + ":" + user + "-pw"));
        if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
        return testing::request(penv->port, method, "/api/v1" + target, body, headers);
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

    static void expect_problem(const Reply& reply, int status, const std::string& words) {
        EXPECT_EQ(reply.status, status) << reply.body;
        EXPECT_EQ(reply.header("Content-Type"), "application/problem+json");
        EXPECT_NE(reply.body.find(words), std::string::npos) << reply.body;
    }
};

TEST_F(PoolsApiTest, PoolsFollowAirflowsShapesAndPaging) {
    auto created = call("POST", "/pools", R"({"name":"heavy","slots":3,"description":"big"})");
    ASSERT_EQ(created.status, 200) << created.body;
    EXPECT_EQ(parse(created), json::parse(R"({"name":"heavy","slots":3,"occupied_slots":0,
        "running_slots":0,"queued_slots":0,"scheduled_slots":0,"open_slots":3,
        "deferred_slots":0,"description":"big","include_deferred":false})"));
    expect_problem(call("POST", "/pools", R"({"name":"heavy","slots":1})"), 409,
                   "already exists");

    auto page = call("GET", "/pools?limit=1&offset=1", "", "op");
    ASSERT_EQ(page.status, 200) << page.body;
    auto body = parse(page);
    EXPECT_EQ(body["total_entries"], json::value(2));
    ASSERT_EQ(body["pools"].as_array().size(), 1u);
    EXPECT_EQ(body["pools"].as_array()[0].as_object()["name"], json::value("heavy"));

    auto got = call("GET", "/pools/default_pool");
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_EQ(parse(got)["slots"], json::value(128));

    // PATCH with update_mask changes only what it names; without one the body is the pool.
    auto patched = call("PATCH", "/pools/heavy?update_mask=slots",
                        R"({"name":"heavy","slots":5,"description":"ignored"})");
    ASSERT_EQ(patched.status, 200) << patched.body;
    EXPECT_EQ(parse(patched)["slots"], json::value(5));
    EXPECT_EQ(parse(patched)["description"], json::value("big"));
    auto whole = call("PATCH", "/pools/heavy", R"({"slots":6})");
    ASSERT_EQ(whole.status, 200) << whole.body;
    EXPECT_EQ(parse(whole)["description"], json::value(nullptr));
    EXPECT_EQ(store_().get_pool("heavy").value()->slots, 6);

    EXPECT_EQ(call("DELETE", "/pools/heavy").status, 204);
    expect_problem(call("DELETE", "/pools/heavy"), 404, "pool 'heavy' not found");
    expect_problem(call("GET", "/pools/heavy"), 404, "pool 'heavy' not found");
    expect_problem(call("PATCH", "/pools/heavy", R"({"slots":1})"), 404, "not found");
}

TEST_F(PoolsApiTest, BadPoolsAreRefusedSayingWhy) {
    expect_problem(call("POST", "/pools", R"({"name":"zero","slots":0})"), 400,
                   "must be an integer from 1 to 1000000, not 0");
    expect_problem(call("POST", "/pools", R"({"name":"neg","slots":-2})"), 400, "not -2");
    expect_problem(call("POST", "/pools", R"({"name":"big","slots":1000001})"), 400,
                   "from 1 to 1000000");
    expect_problem(call("POST", "/pools", R"({"name":"text","slots":"4"})"), 400,
                   "must be an integer from 1 to 1000000, not \\\"4\\\"");
    expect_problem(call("POST", "/pools", R"({"name":"half","slots":1.5})"), 400, "'slots'");
    expect_problem(call("POST", "/pools", R"({"name":"noslots"})"), 400, "'slots' is required");
    expect_problem(call("POST", "/pools", R"({"slots":1})"), 400, "'name' is required");
    expect_problem(call("POST", "/pools", R"({"name":"a b","slots":1})"), 400, "pool name");
    expect_problem(call("POST", "/pools", R"({"name":"x","slots":1,"colour":"red"})"), 400,
                   "colour");
    expect_problem(call("PATCH", "/pools/default_pool?update_mask=name", R"({"name":"x"})"), 400,
                   "update_mask");
    expect_problem(call("PATCH", "/pools/default_pool", R"({"name":"other","slots":2})"), 400,
                   "cannot be renamed");
    expect_problem(call("DELETE", "/pools/default_pool"), 400,
                   "pool 'default_pool' cannot be deleted");
    EXPECT_FALSE(store_().get_pool("zero").value());
    EXPECT_EQ(store_().list_pools(1000, 0).value().total, 1);
}

TEST_F(PoolsApiTest, OnlyOpAndAdminReachPools) {
    for (const char* user : {"viewer", "user"}) {
        expect_problem(call("GET", "/pools", "", user), 403, "may not");
        expect_problem(call("POST", "/pools", R"({"name":"p","slots":1})", user), 403, "may not");
    }
    ASSERT_EQ(call("POST", "/pools", R"({"name":"p","slots":1})", "op").status, 200);
    EXPECT_EQ(call("DELETE", "/pools/p", "", "op").status, 204);
}

TEST_F(PoolsApiTest, SlotCountsComeFromTheTaskInstancesInEachPool) {
    ASSERT_EQ(call("POST", "/pools", R"({"name":"heavy","slots":10})").status, 200);
    // A finished run's records with task instances in each state (nothing runs them: the
    // counts read the store).
    store::DagRun run;
    run.dag_id = "pooled";
    run.run_id = "counted";
    run.state = store::RunState::kSuccess;
    run.logical_date = 1;
    run.queued_at = 1;
    std::vector<store::TaskInstance> tis;
    for (auto [id, state, slots] :
         {std::tuple{"r", store::TaskState::kRunning, 2}, std::tuple{"q", store::TaskState::kQueued, 3},
          std::tuple{"s", store::TaskState::kScheduled, 4},
          std::tuple{"done", store::TaskState::kSuccess, 5}}) {
        store::TaskInstance t;
        t.task_id = id;
        t.state = state;
        t.pool = "heavy";
        t.pool_slots = slots;
        tis.push_back(t);
    }
    store::TaskInstance light;
    light.task_id = "heavy_task";
    light.pool = "heavy";
    light.pool_slots = 2;
    tis.push_back(light);
    ASSERT_TRUE(store_().create_run(run, tis));
    auto got = parse(call("GET", "/pools/heavy"));
    EXPECT_EQ(got["running_slots"], json::value(2));
    EXPECT_EQ(got["queued_slots"], json::value(3));
    EXPECT_EQ(got["scheduled_slots"], json::value(4));
    EXPECT_EQ(got["occupied_slots"], json::value(5));
    EXPECT_EQ(got["open_slots"], json::value(5));
    // A task instance shows its pool and slots, and so does the DAG's task.
    auto ti = parse(call("GET", "/dags/pooled/dagRuns/counted/taskInstances/heavy_task"));
    EXPECT_EQ(ti["pool"], json::value("heavy"));
    EXPECT_EQ(ti["pool_slots"], json::value(2));
    auto task = parse(call("GET", "/dags/pooled/tasks/heavy_task"));
    EXPECT_EQ(task["pool"], json::value("heavy"));
    EXPECT_EQ(task["pool_slots"], json::value(2));
    auto light_task = parse(call("GET", "/dags/pooled/tasks/light_task"));
    EXPECT_EQ(light_task["pool"], json::value("default_pool"));
    ASSERT_TRUE(store_().delete_run("pooled", "counted"));
}

TEST_F(PoolsApiTest, ChangesAreInTheAuditLog) {
    ASSERT_EQ(call("POST", "/pools", R"({"name":"audited","slots":2})", "op").status, 200);
    ASSERT_EQ(call("PATCH", "/pools/audited", R"({"slots":4})").status, 200);
    ASSERT_EQ(call("DELETE", "/pools/audited").status, 204);
    auto logs = parse(call("GET", "/eventLogs?order_by=-event_log_id&limit=3"));
    auto& items = logs["event_logs"].as_array();
    ASSERT_EQ(items.size(), 3u);
    EXPECT_EQ(items[0].as_object().at("event"), json::value("delete_pool"));
    EXPECT_EQ(items[1].as_object().at("event"), json::value("patch_pool"));
    EXPECT_EQ(items[2].as_object().at("event"), json::value("post_pool"));
    EXPECT_EQ(items[2].as_object().at("owner"), json::value("op"));
    EXPECT_NE(json::serialize(items[1]).find("audited"), std::string::npos);
}

}  // namespace
}  // namespace orquestra::api
