// DAG to DAG over real HTTP: a run triggered by a trigger_dag task shows its parent in the
// dagRun shape ("triggered_by"), a run nobody triggered shows null, and a trigger_dag cycle is
// listed by /importErrors like any import error.

#include "api_stack.hpp"
#include "core/strings.hpp"
#include "test_http.hpp"
#include "wait.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace orquestra::api {
namespace {

namespace json = boost::json;

TEST(TriggerDagApiTest, TheChildRunShowsItsParentAndCyclesAreImportErrors) {
    testing::ApiStack stack;
    ASSERT_TRUE(stack.start_registry());
    auto started = stack.start_api({
        {"parent.yaml", "dag_id: parent\nis_paused_upon_creation: false\ntasks:\n"
                        "  go: {trigger_dag: {dag_id: child, conf: {n: 2}, wait: true}}\n"},
        {"child.yaml", "dag_id: child\nis_paused_upon_creation: false\nparams: {n: 1}\n"
                       "tasks:\n  a: {command: \"true\"}\n"},
        {"ping.yaml", "dag_id: ping\ntasks:\n  go: {trigger_dag: pong}\n"},
        {"pong.yaml", "dag_id: pong\ntasks:\n  go: {trigger_dag: ping}\n"},
    });
    ASSERT_TRUE(started) << started.error().message;
    const std::pair<std::string, std::string> content{"Content-Type", "application/json"};
    const std::pair<std::string, std::string> auth{
        "Authorization", "Basic " + base64_encode(std::string(testing::ApiStack::kUser) + ":" +
                                                  testing::ApiStack::kPassword)};
    auto get = [&](const std::string& target) {
        return testing::request(stack.api_port(), "GET", target, "", {auth});
    };
    auto created = testing::request(stack.api_port(), "POST", "/api/v1/dags/parent/dagRuns",
                                    R"({"dag_run_id":"p1"})", {auth, content});
    ASSERT_EQ(created.status, 200) << created.body;
    EXPECT_TRUE(json::parse(created.body).as_object().at("triggered_by").is_null());

    ASSERT_TRUE(testing::eventually([&] {
        auto r = get("/api/v1/dags/parent/dagRuns/p1");
        return r.status == 200 && json::parse(r.body).as_object().at("state") == "success";
    }));
    auto child = get("/api/v1/dags/child/dagRuns/triggered__p1__go");
    ASSERT_EQ(child.status, 200) << child.body;
    const auto run = json::parse(child.body).as_object();
    EXPECT_EQ(run.at("state"), "success");
    EXPECT_EQ(run.at("run_type"), "manual");
    EXPECT_EQ(run.at("conf"), json::parse(R"({"n":2})"));
    EXPECT_EQ(run.at("triggered_by"),
              json::parse(R"({"dag_id":"parent","dag_run_id":"p1","task_id":"go","depth":1})"));
    auto xcom = get("/api/v1/dags/parent/dagRuns/p1/taskInstances/go/xcomEntries/return_value");
    ASSERT_EQ(xcom.status, 200) << xcom.body;
    EXPECT_NE(xcom.body.find("triggered__p1__go"), std::string::npos) << xcom.body;

    auto errors = get("/api/v1/importErrors");
    ASSERT_EQ(errors.status, 200) << errors.body;
    EXPECT_NE(errors.body.find("trigger_dag cycle: ping -> pong -> ping"), std::string::npos)
        << errors.body;
    EXPECT_NE(errors.body.find("trigger_dag cycle: pong -> ping -> pong"), std::string::npos)
        << errors.body;
    EXPECT_EQ(get("/api/v1/dags/ping").status, 404);
}

}  // namespace
}  // namespace orquestra::api
