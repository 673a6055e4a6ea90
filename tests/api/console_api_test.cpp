// The console's side of the REST API: cookie sessions with a CSRF token, no Basic challenge
// for the console's requests, the views under /api/v1/ui, the tries endpoint with what each
// try was asked to do (secrets masked), and the registry's status override by role.

#include "api_stack.hpp"
#include "app/registry_catalog.hpp"
#include "core/strings.hpp"
#include "test_http.hpp"
#include "wait.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

namespace orquestra::api {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kDag = R"(dag_id: calls
is_paused_upon_creation: false
description: "<img src=x onerror=alert(1)>"
params:
  n: {type: integer, minimum: 1, default: 1}
tasks:
  ask:
    http:
      service: svc_a
      method: POST
      path: "/things/{{ params.n }}"
      headers: {Authorization: "Bearer s3cret-value", X-Trace: "t-{{ params.n }}"}
      json: {n: "{{ params.n }}"}
      timeout: 2s
  wait:
    upstream: [ask]
    wait_for_service: {service: svc_b, timeout: 1s}
  local:
    command: ["true"]
)";

const std::pair<std::string, std::string> kJson{"Content-Type", "application/json"};
const std::pair<std::string, std::string> kConsole{"X-Requested-With", "orquestra-console"};

registry::InstanceInfo instance(const std::string& app, const std::string& id) {
    registry::InstanceInfo i;
    i.instance_id = id;
    i.host_name = "host-" + id;
    i.app = app;
    i.ip_addr = "127.0.0.1";
    i.port = {9, true};
    i.vip_address = to_lower(app);
    i.set_metadata("zone", "zone-1");
    i.set_metadata("note", "<b>bold</b>");
    return i;
}

struct Login {
    std::string cookie;  // "orquestra_session=..."
    std::string csrf;
};

class ConsoleApiTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(stack_.start_registry());
        catalog_.emplace(stack_.registry());
        ApiOptions options;
        options.catalog = &*catalog_;
        options.sessions.recheck_interval = 0;  // every request re-reads the user
        auto started = stack_.start_api({{"calls.yaml", kDag}}, options);
        ASSERT_TRUE(started) << started.error().message;
        ASSERT_TRUE(stack_.create_user("viewer", "viewer-secret", "Viewer"));
        ASSERT_TRUE(stack_.create_user("user", "user-secret", "User"));
        ASSERT_TRUE(stack_.create_user("op", "op-secret", "Op"));
    }

    testing::Reply call(const std::string& method, const std::string& target,
                        const std::string& body = "", Headers headers = {}) {
        if (!body.empty()) headers.push_back(kJson);
        return testing::request(stack_.api_port(), method, "/api/v1" + target, body, headers);
    }

    std::optional<Login> login(const std::string& user, const std::string& password) {
        auto r = call("POST", "/ui/session",
                      R"({"username":")" + user + R"(","password":")" + password + "\"}",
                      {kConsole});
        if (r.status != 200) return std::nullopt;
        const std::string set_cookie = r.header("Set-Cookie");
        const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
        return Login{cookie, std::string(json::parse(r.body).at("csrf_token").as_string())};
    }

    static Headers with(const Login& l, bool csrf = true) {
        Headers h{{"Cookie", "theme=dark; " + l.cookie}, kConsole};
        if (csrf) h.emplace_back("X-CSRF-Token", l.csrf);
        return h;
    }

    Headers admin_basic() const {
        return {{"Authorization",
                 "Basic " + base64_encode(std::string(testing::ApiStack::kUser) + ":" +
                                          testing::ApiStack::kPassword)}};
    }

    testing::ApiStack stack_;
    std::optional<app::RegistryCatalog> catalog_;
};

TEST_F(ConsoleApiTest, LoginGivesAnHttpOnlyStrictCookieThatAuthenticates) {
    auto r = call("POST", "/ui/session", R"({"username":"admin","password":"admin-secret"})",
                  {kConsole});
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string cookie = r.header("Set-Cookie");
    EXPECT_NE(cookie.find("orquestra_session="), std::string::npos) << cookie;
    EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
    EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
    EXPECT_NE(cookie.find("Path=/"), std::string::npos) << cookie;
    auto body = json::parse(r.body).as_object();
    EXPECT_EQ(body.at("username"), "admin");
    EXPECT_EQ(body.at("role"), "Admin");
    EXPECT_GE(body.at("csrf_token").as_string().size(), 40U);

    auto l = login("admin", "admin-secret");
    ASSERT_TRUE(l);
    EXPECT_EQ(call("GET", "/dags", "", with(*l, false)).status, 200);
    auto me = call("GET", "/ui/session", "", with(*l, false));
    ASSERT_EQ(me.status, 200) << me.body;
    EXPECT_EQ(json::parse(me.body).at("csrf_token"), json::value(l->csrf));
}

TEST_F(ConsoleApiTest, WrongPasswordIs401AndTheConsoleGetsNoBasicChallenge) {
    auto r = call("POST", "/ui/session", R"({"username":"admin","password":"nope"})", {kConsole});
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_TRUE(r.header("Set-Cookie").empty());
    EXPECT_TRUE(r.header("WWW-Authenticate").empty());
    // A script's unauthenticated request gets no challenge; a plain client still does.
    EXPECT_TRUE(call("GET", "/dags", "", {kConsole}).header("WWW-Authenticate").empty());
    EXPECT_FALSE(call("GET", "/dags").header("WWW-Authenticate").empty());
    EXPECT_EQ(call("POST", "/ui/session", R"({"username":"admin"})", {kConsole}).status, 400);
    EXPECT_EQ(call("POST", "/ui/session", R"({"username":"admin","password":"x","extra":1})",
                   {kConsole})
                  .status,
              400);
}

TEST_F(ConsoleApiTest, FailedLoginsAreSlowedDownPerUser) {
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(call("POST", "/ui/session", R"({"username":"op","password":"bad"})").status, 401);
    }
    auto r = call("POST", "/ui/session", R"({"username":"op","password":"op-secret"})");
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_FALSE(r.header("Retry-After").empty());
}

TEST_F(ConsoleApiTest, ChangesMadeWithTheCookieNeedTheSessionsCsrfToken) {
    auto l = login("admin", "admin-secret");
    ASSERT_TRUE(l);
    const std::string unpause = R"({"is_paused":false})";
    auto none = call("PATCH", "/dags/calls", unpause, with(*l, false));
    EXPECT_EQ(none.status, 403) << none.body;
    EXPECT_NE(none.body.find("CSRF"), std::string::npos) << none.body;
    Headers wrong = with(*l, false);
    wrong.emplace_back("X-CSRF-Token", std::string(l->csrf.size(), 'A'));
    EXPECT_EQ(call("PATCH", "/dags/calls", unpause, wrong).status, 403);
    // Another session's token is not this one's.
    auto other = login("admin", "admin-secret");
    ASSERT_TRUE(other);
    Headers crossed = with(*l, false);
    crossed.emplace_back("X-CSRF-Token", other->csrf);
    EXPECT_EQ(call("PATCH", "/dags/calls", unpause, crossed).status, 403);
    auto ok = call("PATCH", "/dags/calls", unpause, with(*l));
    EXPECT_EQ(ok.status, 200) << ok.body;
    // Basic credentials need no token (no browser sends them on its own to this API).
    EXPECT_EQ(call("PATCH", "/dags/calls", R"({"is_paused":true})", admin_basic()).status, 200);
}

TEST_F(ConsoleApiTest, ForgedCookieIs401AndLogoutEndsTheSession) {
    Headers forged{{"Cookie", "orquestra_session=" + std::string(43, 'x')}, kConsole};
    auto r = call("GET", "/dags", "", forged);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_TRUE(r.header("WWW-Authenticate").empty());

    auto l = login("user", "user-secret");
    ASSERT_TRUE(l);
    EXPECT_EQ(call("DELETE", "/ui/session", "", with(*l, false)).status, 403);  // CSRF
    auto out = call("DELETE", "/ui/session", "", with(*l));
    EXPECT_EQ(out.status, 204) << out.body;
    EXPECT_NE(out.header("Set-Cookie").find("Max-Age=0"), std::string::npos);
    EXPECT_EQ(call("GET", "/dags", "", with(*l, false)).status, 401);
}

TEST_F(ConsoleApiTest, ViewerSessionReadsButMayNotTrigger) {
    auto l = login("viewer", "viewer-secret");
    ASSERT_TRUE(l);
    EXPECT_EQ(call("GET", "/ui/dags", "", with(*l)).status, 200);
    auto r = call("POST", "/dags/calls/dagRuns", R"({"conf":{"n":2}})", with(*l));
    EXPECT_EQ(r.status, 403) << r.body;
}

TEST_F(ConsoleApiTest, DeletedUsersSessionEnds) {
    auto l = login("user", "user-secret");
    ASSERT_TRUE(l);
    EXPECT_EQ(call("GET", "/dags", "", with(*l)).status, 200);
    ASSERT_TRUE(stack_.node().call([&] { return stack_.node().store().delete_user("user"); }));
    EXPECT_EQ(call("GET", "/dags", "", with(*l)).status, 401);
}

TEST_F(ConsoleApiTest, DagListGridAndTriesShowRunsServicesAndTheRenderedRequest) {
    ASSERT_TRUE(stack_.registry().register_instance("SVC_A", instance("SVC_A", "a-1")));
    auto l = login("user", "user-secret");
    ASSERT_TRUE(l);
    auto trig = call("POST", "/dags/calls/dagRuns", R"({"dag_run_id":"r1","conf":{"n":7}})",
                     with(*l));
    ASSERT_EQ(trig.status, 200) << trig.body;
    ASSERT_TRUE(testing::eventually(
        [&] {
            auto run = call("GET", "/dags/calls/dagRuns/r1", "", with(*l));
            return run.body.find(R"("state":"failed")") != std::string::npos;
        },
        20s));

    auto dags = call("GET", "/ui/dags?runs=3", "", with(*l));
    ASSERT_EQ(dags.status, 200) << dags.body;
    auto list = json::parse(dags.body).as_object();
    const auto& dag = list.at("dags").as_array().at(0).as_object();
    EXPECT_EQ(dag.at("dag_id"), "calls");
    // Stays a JSON string: the console shows it as text.
    EXPECT_EQ(dag.at("description"), "<img src=x onerror=alert(1)>");
    EXPECT_EQ(dag.at("recent_runs").as_array().at(0).at("dag_run_id"), "r1");
    EXPECT_EQ(dag.at("run_counts").at("failed"), 1);
    EXPECT_EQ(dag.at("run_counts").at("success"), 0);
    const auto& services = dag.at("services").as_array();
    ASSERT_EQ(services.size(), 2U);
    EXPECT_EQ(services.at(0).at("name"), "SVC_A");
    EXPECT_EQ(services.at(0).at("up"), 1);
    EXPECT_EQ(services.at(1).at("name"), "SVC_B");
    EXPECT_EQ(services.at(1).at("total"), 0);
    EXPECT_EQ(call("GET", "/ui/dags?runs=0", "", with(*l)).status, 400);

    auto grid = call("GET", "/ui/dags/calls/grid", "", with(*l));
    ASSERT_EQ(grid.status, 200) << grid.body;
    auto g = json::parse(grid.body).as_object();
    ASSERT_EQ(g.at("tasks").as_array().size(), 3U);
    const auto& ask = g.at("tasks").as_array().at(0).as_object();
    EXPECT_EQ(ask.at("task_id"), "ask");
    EXPECT_EQ(ask.at("service"), "SVC_A");
    EXPECT_EQ(ask.at("method"), "POST");
    EXPECT_EQ(ask.at("downstream_task_ids").as_array().at(0), "wait");
    const auto& run = g.at("runs").as_array().at(0).as_object();
    EXPECT_EQ(run.at("dag_run_id"), "r1");
    EXPECT_EQ(run.at("task_instances").at("ask").at("state"), "failed");
    EXPECT_EQ(run.at("task_instances").at("wait").at("state"), "upstream_failed");
    EXPECT_EQ(run.at("task_instances").at("local").at("state"), "success");
    EXPECT_EQ(call("GET", "/ui/dags/nope/grid", "", with(*l)).status, 404);

    auto tries = call("GET", "/dags/calls/dagRuns/r1/taskInstances/ask/tries", "", with(*l));
    ASSERT_EQ(tries.status, 200) << tries.body;
    auto t = json::parse(tries.body).as_object();
    ASSERT_EQ(t.at("total_entries"), 1);
    const auto& first = t.at("task_instances").as_array().at(0).as_object();
    EXPECT_EQ(first.at("state"), "failed");
    EXPECT_FALSE(first.at("error").as_string().empty());
    const auto& rendered = first.at("rendered_fields").as_object();
    EXPECT_EQ(rendered.at("kind"), "http");
    EXPECT_EQ(rendered.at("method"), "POST");
    EXPECT_EQ(rendered.at("service"), "svc_a");
    EXPECT_EQ(rendered.at("path"), "/things/7");
    EXPECT_EQ(rendered.at("headers").at("Authorization"), "***");
    EXPECT_EQ(rendered.at("headers").at("X-Trace"), "t-7");
    EXPECT_EQ(rendered.at("body").at("n"), 7);
    EXPECT_EQ(tries.body.find("s3cret-value"), std::string::npos);

    auto local = call("GET", "/dags/calls/dagRuns/r1/taskInstances/local/tries", "", with(*l));
    auto lr = json::parse(local.body).at("task_instances").as_array().at(0).at("rendered_fields");
    EXPECT_EQ(lr.at("kind"), "command");
    EXPECT_EQ(lr.at("argv").as_array().at(0), "true");
    EXPECT_EQ(lr.at("env").at("ORQUESTRA_RUN_ID"), "r1");
    EXPECT_EQ(lr.at("env").at("ORQUESTRA_TRY_MARKER"), "***");
    auto ti = call("GET", "/dags/calls/dagRuns/r1/taskInstances/ask", "", with(*l));
    EXPECT_NE(ti.body.find(R"("served_by":)"), std::string::npos) << ti.body;
}

TEST_F(ConsoleApiTest, ServicesShowInstancesAndCallersAndOnlyOpTakesOneOutOfService) {
    ASSERT_TRUE(stack_.registry().register_instance("SVC_A", instance("SVC_A", "a-1")));
    ASSERT_TRUE(stack_.registry().register_instance("SVC_A", instance("SVC_A", "a-2")));
    auto viewer = login("viewer", "viewer-secret");
    auto user = login("user", "user-secret");
    auto op = login("op", "op-secret");
    ASSERT_TRUE(viewer && user && op);

    auto r = call("GET", "/ui/services", "", with(*viewer));
    ASSERT_EQ(r.status, 200) << r.body;
    auto body = json::parse(r.body).as_object();
    EXPECT_EQ(body.at("registry").at("instances"), 2);
    EXPECT_EQ(body.at("registry").at("up"), 2);
    const auto& apps = body.at("apps").as_array();
    ASSERT_EQ(apps.size(), 2U);  // SVC_A registered, SVC_B called but absent
    const auto& a = apps.at(0).as_object();
    EXPECT_EQ(a.at("name"), "SVC_A");
    ASSERT_EQ(a.at("instances").as_array().size(), 2U);
    const auto& i1 = a.at("instances").as_array().at(0).as_object();
    EXPECT_EQ(i1.at("status"), "UP");
    EXPECT_EQ(i1.at("zone"), "zone-1");
    EXPECT_EQ(i1.at("metadata").at("note"), "<b>bold</b>");
    EXPECT_EQ(a.at("used_by").as_array().at(0).at("dag_id"), "calls");
    EXPECT_EQ(a.at("used_by").as_array().at(0).at("task_id"), "ask");
    EXPECT_EQ(apps.at(1).at("name"), "SVC_B");
    EXPECT_TRUE(apps.at(1).at("instances").as_array().empty());

    const std::string target = "/ui/services/SVC_A/instances/a-1/status";
    const std::string out = R"({"status":"OUT_OF_SERVICE"})";
    EXPECT_EQ(call("PUT", target, out, with(*viewer)).status, 403);
    EXPECT_EQ(call("PUT", target, out, with(*user)).status, 403);
    EXPECT_EQ(call("PUT", target, out, with(*op, false)).status, 403);  // CSRF
    EXPECT_EQ(call("PUT", target, R"({"status":"SLEEPY"})", with(*op)).status, 400);
    EXPECT_EQ(call("PUT", "/ui/services/SVC_A/instances/nope/status", out, with(*op)).status, 404);
    auto put = call("PUT", target, out, with(*op));
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(stack_.registry().instance("SVC_A", "a-1")->status,
              registry::InstanceStatus::kOutOfService);
    EXPECT_EQ(stack_.registry().up_instances("SVC_A").size(), 1U);
    auto del = call("DELETE", target, "", with(*op));
    ASSERT_EQ(del.status, 200) << del.body;
    EXPECT_EQ(stack_.registry().instance("SVC_A", "a-1")->status, registry::InstanceStatus::kUp);
}

TEST_F(ConsoleApiTest, DagSourceServesTheFileOfARecordedDagByItsToken) {
    auto l = login("viewer", "viewer-secret");
    ASSERT_TRUE(l);
    auto dag = call("GET", "/dags/calls", "", with(*l));
    ASSERT_EQ(dag.status, 200) << dag.body;
    const std::string token(json::parse(dag.body).at("file_token").as_string());
    Headers text = with(*l);
    text.emplace_back("Accept", "text/plain");
    auto plain = call("GET", "/dagSources/" + token, "", text);
    ASSERT_EQ(plain.status, 200) << plain.body;
    EXPECT_EQ(plain.body, kDag);
    EXPECT_EQ(plain.header("Content-Type"), "text/plain; charset=utf-8");
    auto as_json = call("GET", "/dagSources/" + token, "", with(*l));
    ASSERT_EQ(as_json.status, 200);
    EXPECT_EQ(json::parse(as_json.body).at("content"), kDag);
    // Nothing but a recorded DAG's token names a file.
    EXPECT_EQ(call("GET", "/dagSources/" + std::string(32, '0'), "", with(*l)).status, 404);
    EXPECT_EQ(call("GET", "/dagSources/..%2F..%2Fetc%2Fpasswd", "", with(*l)).status, 404);
    EXPECT_EQ(call("GET", "/dagSources/" + token).status, 401);
}

}  // namespace
}  // namespace orquestra::api
