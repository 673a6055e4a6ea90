// Mapped task instances over real HTTP (ApiStack: a real registry, WorkflowNode on SQLite and
// ApiServer on 127.0.0.1:0): map_index in the shapes, listMapped with its filters, order and
// page, one instance, its tries and its log, and what a mapped task answers without an index.

#include "api_stack.hpp"
#include "core/strings.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace orquestra::api {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Reply;

constexpr const char* kMappedDag = R"(
dag_id: mapped
is_paused_upon_creation: false
params:
  ids: {default: [3, 1, 2]}
tasks:
  each:
    expand: {n: "{{ params.ids }}"}
    command:
      script: 'if [ "$N" = 1 ]; then echo "no one" >&2; exit 4; fi; echo "$N"'
      env: {N: "{{ expand.n }}"}
  total:
    upstream: [each]
    trigger_rule: all_done
    command:
      script: 'echo "$ALL"'
      env: {ALL: "{{ tasks.each.output | tojson }}"}
)";

class MappedApiTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        stack_ = new testing::ApiStack;
        auto r = stack_->start_registry();
        ASSERT_TRUE(r) << r.error().message;
        auto a = stack_->start_api({{"mapped.yaml", kMappedDag}});
        ASSERT_TRUE(a) << a.error().message;
        auto t = call("POST", "/dags/mapped/dagRuns", R"({"dag_run_id":"m1"})");
        ASSERT_EQ(t.status, 200) << t.body;
        // Wait for the run's end (at most 10 s).
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            auto run = call("GET", "/dags/mapped/dagRuns/m1");
            // total (all_done) is the only leaf: the run succeeds though instance 1 failed.
            if (run.body.find("\"state\":\"success\"") != std::string::npos) return;
            std::this_thread::sleep_for(10ms);
        }
        FAIL() << "the run did not end in time";
    }
    static void TearDownTestSuite() {
        delete stack_;
        stack_ = nullptr;
    }
    static Reply call(const std::string& method, const std::string& target,
                      const std::string& body = "") {
        std::vector<std::pair<std::string, std::string>> headers = {
            {"Authorization",
             "Basic " + base64_encode(std::string(testing::ApiStack::kUser) + ":" +
                                      testing::ApiStack::kPassword)}};
        if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
        return testing::request(stack_->api_port(), method, "/api/v1" + target, body, headers);
    }
    static json::object get(const std::string& target, int status = 200) {
        auto reply = call("GET", target);
        EXPECT_EQ(reply.status, status) << target << ": " << reply.body;
        boost::system::error_code ec;
        auto v = json::parse(reply.body, ec);
        return !ec && v.is_object() ? v.as_object() : json::object();
    }
    static std::vector<std::int64_t> indexes(const json::object& page) {
        std::vector<std::int64_t> out;
        for (const auto& ti : page.at("task_instances").as_array()) {
            out.push_back(ti.at("map_index").as_int64());
        }
        return out;
    }

    static testing::ApiStack* stack_;
};

testing::ApiStack* MappedApiTest::stack_ = nullptr;

const std::string kBase = "/dags/mapped/dagRuns/m1/taskInstances";

TEST_F(MappedApiTest, ListMappedGivesEveryInstanceWithFiltersOrderAndPage) {
    auto all = get(kBase + "/each/listMapped");
    EXPECT_EQ(all.at("total_entries"), json::value(3));
    EXPECT_EQ(indexes(all), (std::vector<std::int64_t>{0, 1, 2}));
    const auto& first = all.at("task_instances").as_array()[0].as_object();
    EXPECT_EQ(first.at("task_id"), json::value("each"));
    EXPECT_EQ(first.at("state"), json::value("success"));

    auto failed = get(kBase + "/each/listMapped?state=failed");
    EXPECT_EQ(indexes(failed), (std::vector<std::int64_t>{1}));
    EXPECT_EQ(failed.at("total_entries"), json::value(1));
    auto reversed = get(kBase + "/each/listMapped?order_by=-map_index&limit=2");
    EXPECT_EQ(indexes(reversed), (std::vector<std::int64_t>{2, 1}));
    EXPECT_EQ(reversed.at("total_entries"), json::value(3));
    auto paged = get(kBase + "/each/listMapped?offset=2");
    EXPECT_EQ(indexes(paged), (std::vector<std::int64_t>{2}));

    auto bad_order = call("GET", kBase + "/each/listMapped?order_by=nonsense");
    EXPECT_EQ(bad_order.status, 400) << bad_order.body;
    EXPECT_NE(bad_order.body.find("cannot be ordered by 'nonsense'"), std::string::npos);
    auto unknown_run = call("GET", "/dags/mapped/dagRuns/nope/taskInstances/each/listMapped");
    EXPECT_EQ(unknown_run.status, 404) << unknown_run.body;
    // An unmapped task has no mapped instances.
    EXPECT_EQ(get(kBase + "/total/listMapped").at("total_entries"), json::value(0));
}

TEST_F(MappedApiTest, OneInstanceItsTriesAndItsLog) {
    auto one = get(kBase + "/each/2");
    EXPECT_EQ(one.at("map_index"), json::value(2));
    EXPECT_EQ(one.at("state"), json::value("success"));
    EXPECT_TRUE(one.at("rendered_fields").is_object());

    auto tries = get(kBase + "/each/1/tries");
    ASSERT_EQ(tries.at("total_entries"), json::value(1));
    const auto& t = tries.at("task_instances").as_array()[0].as_object();
    EXPECT_EQ(t.at("map_index"), json::value(1));
    EXPECT_EQ(t.at("state"), json::value("failed"));

    auto log = call("GET", kBase + "/each/logs/1?map_index=1&full_content=true");
    ASSERT_EQ(log.status, 200) << log.body;
    EXPECT_NE(log.body.find("exit code 4"), std::string::npos) << log.body;
    auto other = call("GET", kBase + "/each/logs/1?map_index=2&full_content=true");
    ASSERT_EQ(other.status, 200) << other.body;
    EXPECT_NE(other.body.find("stdout: 2"), std::string::npos) << other.body;
    EXPECT_EQ(other.body.find("exit code 4"), std::string::npos) << other.body;

    // The downstream task read the outputs in map_index order (null for the failed one).
    auto total = get(kBase + "/total");
    EXPECT_EQ(total.at("map_index"), json::value(-1));
    auto xcom = get(kBase + "/total/xcomEntries/return_value?stringify=false");
    EXPECT_EQ(xcom.at("value"), json::parse("[3, null, 2]")) << json::serialize(xcom);
}

TEST_F(MappedApiTest, WrongIndexesAndAMappedTaskWithoutOneAreClearErrors) {
    auto missing = call("GET", kBase + "/each/7");
    EXPECT_EQ(missing.status, 404) << missing.body;
    EXPECT_NE(missing.body.find("no mapped instance 7"), std::string::npos) << missing.body;
    auto bad = call("GET", kBase + "/each/minus1");
    EXPECT_EQ(bad.status, 400) << bad.body;
    EXPECT_NE(bad.body.find("map_index must be an integer"), std::string::npos) << bad.body;
    auto whole = call("GET", kBase + "/each");
    EXPECT_EQ(whole.status, 404) << whole.body;
    EXPECT_NE(whole.body.find("is mapped"), std::string::npos) << whole.body;
    auto bad_log = call("GET", kBase + "/each/logs/1?map_index=x");
    EXPECT_EQ(bad_log.status, 400) << bad_log.body;
}

TEST_F(MappedApiTest, TheListsIncludeMappedInstances) {
    auto listed = get("/dags/mapped/dagRuns/m1/taskInstances");
    EXPECT_EQ(listed.at("total_entries"), json::value(4));
    EXPECT_EQ(indexes(listed), (std::vector<std::int64_t>{0, 1, 2, -1}));
    auto batch = call("POST", "/dags/~/dagRuns/~/taskInstances/list",
                      R"({"dag_ids":["mapped"],"task_ids":["each"]})");
    ASSERT_EQ(batch.status, 200) << batch.body;
    auto body = json::parse(batch.body).as_object();
    EXPECT_EQ(body.at("total_entries"), json::value(3));
}

TEST_F(MappedApiTest, TheOpenApiDocumentListsTheMappedRoutes) {
    auto doc = get("/openapi.json");
    const auto& paths = doc.at("paths").as_object();
    EXPECT_TRUE(paths.contains(
        "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/listMapped"));
    EXPECT_TRUE(
        paths.contains("/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}"));
    EXPECT_TRUE(paths.contains(
        "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/tries"));
}

}  // namespace
}  // namespace orquestra::api
