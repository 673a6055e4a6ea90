// /api/v1/variables and /api/v1/connections over real HTTP: a real HttpServer on 127.0.0.1:0
// serving ApiServer in front of a real WorkflowNode (temporary home, SQLite, its secret.key),
// with Airflow's shapes, roles (Op and Admin only), paging, problems, and secrets that never
// come back in clear; then a DAG whose command echoes a secret variable, read back through the
// logs endpoint with the secret masked.

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
#include <random>
#include <string>
#include <thread>

#include "api/users.hpp"
#include "app/registry_directory.hpp"
#include "app/registry_node.hpp"
#include "app/workflow_node.hpp"
#include "core/strings.hpp"
#include "test_http.hpp"

namespace orquestra::api {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Reply;

constexpr const char* kEchoDag = R"(
dag_id: echo_secret
is_paused_upon_creation: false
tasks:
  show:
    command:
      script: 'echo "token is $TOKEN, region is $REGION"'
      env:
        TOKEN: "{{ var.value.deploy_token }}"
        REGION: "{{ var.value.deploy_region }}"
)";

// Everything the suite shares, built once (hashing the users' passwords is the slow part);
// each test starts with no variable and no connection.
struct SecretsEnv {
    fs::path home;
    testing::IoThreads registry_io{1};
    testing::IoThreads api_io{1};
    std::unique_ptr<app::RegistryNode> registry;
    std::unique_ptr<app::RegistryDirectory> directory;
    http::IoPool pool{1};
    std::unique_ptr<app::WorkflowNode> node;
    std::unique_ptr<ApiServer> api;
    std::unique_ptr<http::HttpServer> server;
    std::uint16_t port = 0;
};

SecretsEnv* senv = nullptr;

class SecretsApiTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        senv = new SecretsEnv;
        std::random_device rd;
        senv->home = fs::temp_directory_path() /
                     ("orquestra-secrets-api-" + std::to_string(::getpid()) + "-" +
                      std::to_string(rd()));
        fs::create_directories(senv->home / "dags");
        std::ofstream(senv->home / "dags" / "echo.yaml") << kEchoDag;
        senv->registry = std::make_unique<app::RegistryNode>(
            senv->registry_io.io(), SystemClock::instance(), app::RegistryNodeOptions{});
        ASSERT_TRUE(senv->registry->start());
        senv->directory = std::make_unique<app::RegistryDirectory>(senv->registry->registry());
        senv->pool.start();
        app::HomePaths paths{senv->home, senv->home / "dags", senv->home / "orquestra.db",
                             senv->home / "logs"};
        senv->node = std::make_unique<app::WorkflowNode>(paths, *senv->directory, senv->pool,
                                                         SystemClock::instance(),
                                                         scheduler::EngineOptions{});
        auto started = senv->node->start();
        ASSERT_TRUE(started) << started.error().message;
        for (auto [name, role] : {std::pair{"admin", "Admin"}, std::pair{"op", "Op"},
                                  std::pair{"viewer", "Viewer"}, std::pair{"user", "User"}}) {
            auto created = create_user(senv->node->store(),
                                       UserSpec{name, std::string(name) + "-pw", role, "", "", ""});
            ASSERT_TRUE(created) << created.error().message;
        }
        ApiOptions options;
        options.secret_keys = &senv->node->secret_keys();
        senv->api = std::make_unique<ApiServer>(senv->node->engine(), senv->node->store(),
                                                senv->node->loop(), options);
        senv->server = std::make_unique<http::HttpServer>(senv->api_io.io(), http::ServerOptions{},
                                                          senv->api->handler());
        auto port = senv->server->start();
        ASSERT_TRUE(port) << port.error().message;
        senv->port = *port;
    }

    // The HTTP server stops before the API, the API before the engine loop.
    static void TearDownTestSuite() {
        if (senv == nullptr) return;
        if (senv->server) {
            senv->server->stop();
            std::promise<void> closed;
            boost::asio::post(senv->api_io.io(), [&closed] { closed.set_value(); });
            closed.get_future().wait();
        }
        senv->api_io.stop();
        senv->server.reset();
        senv->api.reset();
        senv->pool.stop();
        senv->node.reset();
        if (senv->registry) senv->registry->stop();
        senv->registry_io.stop();
        std::error_code ec;
        fs::remove_all(senv->home, ec);
        delete senv;
        senv = nullptr;
    }

    void SetUp() override {
        ASSERT_NE(senv, nullptr);
        store::Store& store = senv->node->store();
        for (const auto& v : store.list_variables(1000, 0).value().items) {
            ASSERT_TRUE(store.delete_variable(v.key));
        }
        for (const auto& c : store.list_connections(1000, 0).value().items) {
            ASSERT_TRUE(store.delete_connection(c.conn_id));
        }
    }

    static store::Store& store_() { return senv->node->store(); }
    static store::SecretKeySource& keys() { return senv->node->secret_keys(); }

    Reply call(const std::string& method, const std::string& target, const std::string& body = "",
               const std::string& user = "admin") {
        std::vector<std::pair<std::string, std::string>> headers;
        headers.emplace_back("Authorization", "Basic " + base64_encode(user + ":" + user + "-pw"));
        if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
        return testing::request(senv->port, method, "/api/v1" + target, body, headers);
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

TEST_F(SecretsApiTest, VariablesFollowAirflowsShapesAndNeverShowASecret) {
    auto created = call("POST", "/variables",
                        R"({"key":"db_password","value":"hunter2-pw","description":"db"})");
    ASSERT_EQ(created.status, 200) << created.body;
    EXPECT_EQ(parse(created),
              json::parse(R"({"key":"db_password","value":"***","description":"db"})"));
    ASSERT_EQ(call("POST", "/variables", R"({"key":"region","value":"eu"})").status, 200);

    auto got = call("GET", "/variables/region", "", "op");
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_EQ(parse(got), json::parse(R"({"key":"region","value":"eu","description":null})"));
    auto secret = call("GET", "/variables/db_password");
    EXPECT_EQ(secret.body.find("hunter2"), std::string::npos) << secret.body;

    auto page = call("GET", "/variables?limit=1&offset=1");
    ASSERT_EQ(page.status, 200);
    auto body = parse(page);
    EXPECT_EQ(body["total_entries"], json::value(2));
    ASSERT_EQ(body["variables"].as_array().size(), 1u);
    EXPECT_EQ(body["variables"].as_array()[0].as_object()["key"], json::value("region"));

    // PATCH: the path's key; "***" sent back keeps the secret; update_mask limits the fields.
    auto patched = call("PATCH", "/variables/db_password?update_mask=description",
                        R"({"key":"db_password","value":"ignored","description":"new"})");
    ASSERT_EQ(patched.status, 200) << patched.body;
    auto kept = call("PATCH", "/variables/db_password",
                     R"({"key":"db_password","value":"***"})");
    ASSERT_EQ(kept.status, 200) << kept.body;
    auto raw = store_().get_variable("db_password").value();
    ASSERT_TRUE(raw);
    EXPECT_TRUE(raw->is_encrypted);
    EXPECT_EQ(raw->value.find("hunter2"), std::string::npos);
    EXPECT_EQ(raw->description, "new");
    store::Secrets clear(store_(), keys());
    EXPECT_EQ(clear.get_variable("db_password").value()->value, "hunter2-pw");

    expect_problem(call("PATCH", "/variables/region", R"({"key":"other","value":"x"})"), 400,
                   "does not match");
    expect_problem(call("PATCH", "/variables/absent", R"({"key":"absent","value":"x"})"), 404,
                   "variable 'absent' not found");
    expect_problem(call("GET", "/variables/absent"), 404, "variable 'absent' not found");
    expect_problem(call("POST", "/variables", R"({"value":"x"})"), 400, "'key' is required");
    expect_problem(call("POST", "/variables", R"({"key":"k","value":5})"), 400, "value");
    expect_problem(
        call("POST", "/variables", R"({"key":")" + std::string(251, 'k') + R"(","value":"x"})"),
        400, "250");
    EXPECT_EQ(call("DELETE", "/variables/region").status, 204);
    expect_problem(call("DELETE", "/variables/region"), 404, "not found");
}

TEST_F(SecretsApiTest, OnlyOpAndAdminReachVariablesAndConnections) {
    for (const char* user : {"viewer", "user"}) {
        expect_problem(call("GET", "/variables", "", user), 403, "may not");
        expect_problem(call("GET", "/connections", "", user), 403, "may not");
        expect_problem(call("POST", "/variables", R"({"key":"a","value":"b"})", user), 403,
                       "may not");
    }
    EXPECT_EQ(call("GET", "/connections", "", "op").status, 200);
    EXPECT_EQ(call("POST", "/variables", R"({"key":"a","value":"b"})", "op").status, 200);
}

TEST_F(SecretsApiTest, ConnectionsFollowAirflowsShapesAndNeverShowThePassword) {
    auto created = call("POST", "/connections", R"({
        "connection_id": "my_api", "conn_type": "http", "host": "api.test", "port": 8080,
        "login": "ana", "password": "pw-123456", "schema": "v1",
        "extra": "{\"timeout\": 5, \"api_key\": \"k-987654\"}"})");
    ASSERT_EQ(created.status, 200) << created.body;
    auto c = parse(created);
    EXPECT_EQ(c["connection_id"], json::value("my_api"));
    EXPECT_EQ(c["port"], json::value(8080));
    EXPECT_FALSE(c.contains("password"));
    EXPECT_EQ(c["extra"], json::value(R"({"timeout":5,"api_key":"***"})"));
    EXPECT_EQ(created.body.find("pw-123456"), std::string::npos);
    EXPECT_EQ(created.body.find("k-987654"), std::string::npos);

    expect_problem(call("POST", "/connections", R"({"connection_id":"my_api","conn_type":"http"})"),
                   409, "already exists");
    expect_problem(call("POST", "/connections", R"({"connection_id":"x"})"), 400, "conn_type");
    expect_problem(call("POST", "/connections", R"({"connection_id":"bad id","conn_type":"http"})"),
                   400, "letters, digits");
    expect_problem(
        call("POST", "/connections", R"({"connection_id":"p","conn_type":"http","port":70000})"),
        400, "port");
    expect_problem(
        call("POST", "/connections", R"({"connection_id":"e","conn_type":"http","extra":"[1"})"),
        400, "JSON object");

    auto patched = call("PATCH", "/connections/my_api?update_mask=host",
                        R"({"connection_id":"my_api","conn_type":"http","host":"api2.test"})");
    ASSERT_EQ(patched.status, 200) << patched.body;
    EXPECT_EQ(parse(patched)["host"], json::value("api2.test"));
    store::Secrets clear(store_(), keys());
    auto stored = clear.get_connection("my_api").value();
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->password, "pw-123456");
    EXPECT_EQ(stored->schema, "v1");
    EXPECT_TRUE(store_().get_connection("my_api").value()->password->starts_with("sbx1:"));

    auto list = call("GET", "/connections?limit=10", "", "op");
    ASSERT_EQ(list.status, 200);
    auto body = parse(list);
    EXPECT_EQ(body["total_entries"], json::value(1));
    EXPECT_EQ(list.body.find("pw-123456"), std::string::npos);
    expect_problem(call("GET", "/connections/none"), 404, "connection 'none' not found");
    expect_problem(call("GET", "/connections?limit=-1"), 400, "limit");
    EXPECT_EQ(call("DELETE", "/connections/my_api").status, 204);
    expect_problem(call("DELETE", "/connections/my_api"), 404, "not found");
}

TEST_F(SecretsApiTest, ACommandEchoingASecretVariableLogsItMasked) {
    ASSERT_EQ(call("POST", "/variables", R"({"key":"deploy_token","value":"tok-XYZ-31337"})").status,
              200);
    ASSERT_EQ(call("POST", "/variables", R"({"key":"deploy_region","value":"sa-east"})").status,
              200);
    auto run = call("POST", "/dags/echo_secret/dagRuns", R"({"dag_run_id":"r1"})");
    ASSERT_EQ(run.status, 200) << run.body;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    std::string state;
    while (std::chrono::steady_clock::now() < deadline) {
        auto r = call("GET", "/dags/echo_secret/dagRuns/r1");
        state = json::serialize(parse(r)["state"]);
        if (state == "\"success\"" || state == "\"failed\"") break;
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(state, "\"success\"");
    auto log = call("GET", "/dags/echo_secret/dagRuns/r1/taskInstances/show/logs/1?full_content=true");
    ASSERT_EQ(log.status, 200) << log.body;
    EXPECT_NE(log.body.find("token is ***, region is sa-east"), std::string::npos) << log.body;
    EXPECT_EQ(log.body.find("tok-XYZ-31337"), std::string::npos) << log.body;
    auto ti = call("GET", "/dags/echo_secret/dagRuns/r1/taskInstances/show/tries");
    EXPECT_EQ(ti.body.find("tok-XYZ-31337"), std::string::npos) << ti.body;
}

}  // namespace
}  // namespace orquestra::api
