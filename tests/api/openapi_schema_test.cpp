// The OpenAPI document against what the API really answers: a real API on 127.0.0.1:0 (a
// registry with a service instance, a DAG that has run, a broken DAG file, a variable, a
// connection, users, configuration) is called once on every route and method, and each answer
// is validated against the schema /openapi.json gives for it, by the small validator below
// (type, date-time, enum, nullable, required, properties, additionalProperties, items, $ref,
// allOf, oneOf). A property the schema does not name is an error too, so any drift between a
// shape and src/api/schemas.cpp fails here; so does a route or method with no row in
// schemas.cpp or no sample request in kSamples below.

#include "api/schemas.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "api/openapi.hpp"
#include "api_stack.hpp"
#include "app/registry_catalog.hpp"
#include "core/strings.hpp"
#include "test_http.hpp"
#include "wait.hpp"

namespace orquestra::api {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// --- the validator ---------------------------------------------------------------------------

// Validates JSON values against the OpenAPI 3.0 schemas of one document. Strict where the
// document is silent: an object schema with `properties` and no `additionalProperties` accepts
// no other property.
class SchemaValidator {
  public:
    explicit SchemaValidator(const json::object& doc) : doc_(doc) {}

    // Every way `v` breaks `schema`, each "at $.path: what".
    std::vector<std::string> check(const json::value& v, const json::value& schema) const {
        std::vector<std::string> errors;
        validate(v, schema, "$", errors, 0);
        return errors;
    }

    // The schema a `$ref` names, or nullptr.
    const json::value* resolve(std::string_view ref) const {
        constexpr std::string_view kPrefix = "#/components/schemas/";
        if (!ref.starts_with(kPrefix)) return nullptr;
        const auto* components = doc_.if_contains("components");
        if (components == nullptr || !components->is_object()) return nullptr;
        const auto* schemas = components->as_object().if_contains("schemas");
        if (schemas == nullptr || !schemas->is_object()) return nullptr;
        return schemas->as_object().if_contains(ref.substr(kPrefix.size()));
    }

  private:
    static bool is_datetime(std::string_view s) {
        static const std::regex kDateTime(
            R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))");
        return std::regex_match(s.begin(), s.end(), kDateTime);
    }

    static std::string kind_name(const json::value& v) {
        switch (v.kind()) {
            case json::kind::null: return "null";
            case json::kind::bool_: return "boolean";
            case json::kind::int64:
            case json::kind::uint64: return "integer";
            case json::kind::double_: return "number";
            case json::kind::string: return "string";
            case json::kind::array: return "array";
            case json::kind::object: return "object";
        }
        return "?";
    }

    void validate(const json::value& v, const json::value& schema_value, const std::string& at,
                  std::vector<std::string>& errors, int depth) const {
        if (depth > 64) {
            errors.push_back("at " + at + ": schemas nest too deep (a $ref cycle?)");
            return;
        }
        if (!schema_value.is_object()) {
            errors.push_back("at " + at + ": the schema is not an object");
            return;
        }
        const json::object& schema = schema_value.as_object();
        if (const auto* ref = schema.if_contains("$ref")) {
            const json::value* target = resolve(ref->as_string());
            if (target == nullptr) {
                errors.push_back("at " + at + ": unknown $ref " + json::serialize(*ref));
                return;
            }
            validate(v, *target, at, errors, depth + 1);
            return;
        }
        const auto* nullable = schema.if_contains("nullable");
        if (v.is_null() && nullable != nullptr && nullable->is_bool() && nullable->as_bool()) {
            return;
        }
        if (const auto* all = schema.if_contains("allOf")) {
            for (const auto& part : all->as_array()) validate(v, part, at, errors, depth + 1);
        }
        if (const auto* one = schema.if_contains("oneOf")) {
            int matched = 0;
            std::string why;
            for (const auto& part : one->as_array()) {
                std::vector<std::string> sub;
                validate(v, part, at, sub, depth + 1);
                if (sub.empty()) {
                    ++matched;
                } else {
                    why += " [" + sub.front() + "]";
                }
            }
            if (matched != 1) {
                errors.push_back("at " + at + ": matches " + std::to_string(matched) +
                                 " of the oneOf schemas, not exactly one" + why);
            }
        }
        const auto* type = schema.if_contains("type");
        if (type == nullptr) return;  // any value, or checked by allOf/oneOf above
        const std::string_view want = type->as_string();
        const std::string got = kind_name(v);
        const bool ok = want == got || (want == "number" && got == "integer");
        if (!ok) {
            errors.push_back("at " + at + ": expected " + std::string(want) +
                             (v.is_null() ? " (not nullable)" : "") + ", got " + got + " " +
                             json::serialize(v));
            return;
        }
        if (const auto* values = schema.if_contains("enum")) {
            bool found = false;
            for (const auto& e : values->as_array()) found = found || e == v;
            if (!found) {
                errors.push_back("at " + at + ": " + json::serialize(v) + " is not one of " +
                                 json::serialize(*values));
            }
        }
        if (want == "string") {
            const auto* format = schema.if_contains("format");
            if (format != nullptr && format->as_string() == "date-time" &&
                !is_datetime(v.as_string())) {
                errors.push_back("at " + at + ": " + json::serialize(v) + " is not a date-time");
            }
        } else if (want == "array") {
            if (const auto* items = schema.if_contains("items")) {
                const auto& array = v.as_array();
                for (std::size_t i = 0; i < array.size(); ++i) {
                    validate(array[i], *items, at + "[" + std::to_string(i) + "]", errors,
                             depth + 1);
                }
            }
        } else if (want == "object") {
            validate_object(v.as_object(), schema, at, errors, depth);
        }
    }

    void validate_object(const json::object& o, const json::object& schema, const std::string& at,
                         std::vector<std::string>& errors, int depth) const {
        if (const auto* required = schema.if_contains("required")) {
            for (const auto& name : required->as_array()) {
                if (!o.contains(name.as_string())) {
                    errors.push_back("at " + at + ": required property '" +
                                     std::string(name.as_string()) + "' is missing");
                }
            }
        }
        const auto* properties = schema.if_contains("properties");
        const auto* additional = schema.if_contains("additionalProperties");
        for (const auto& [key, value] : o) {
            const std::string where = at + "." + std::string(key);
            const json::value* property =
                properties != nullptr ? properties->as_object().if_contains(key) : nullptr;
            if (property != nullptr) {
                validate(value, *property, where, errors, depth + 1);
            } else if (additional != nullptr && additional->is_object()) {
                validate(value, *additional, where, errors, depth + 1);
            } else if (additional != nullptr && additional->is_bool() && additional->as_bool()) {
                // free-form
            } else if (properties != nullptr) {
                errors.push_back("at " + at + ": property '" + std::string(key) +
                                 "' is not in the schema (add it in src/api/schemas.cpp)");
            }
        }
    }

    const json::object& doc_;
};

// --- what the validator itself catches --------------------------------------------------------

TEST(SchemaValidatorTest, CatchesTypesNullsMissingAndUnknownProperties) {
    const json::object doc{{"components", json::object{{"schemas", component_schemas()}}}};
    SchemaValidator v(doc);
    const json::value run = json::parse(R"({"dag_run_id":"r","dag_id":"d",
        "logical_date":"2024-01-01T06:00:00.123+00:00","execution_date":null,"start_date":null,
        "end_date":null,"data_interval_start":null,"data_interval_end":null,
        "last_scheduling_decision":null,"run_type":"manual","state":"success",
        "external_trigger":true,"conf":{"a":[1]},"note":null})");
    const json::value schema = schema_of("DAGRun");
    EXPECT_TRUE(v.check(run, schema).empty());

    auto broken = [&](const char* key, json::value value) {
        json::value copy = run;
        if (value.is_string() && value.as_string() == "<absent>") {
            copy.as_object().erase(key);
        } else {
            copy.as_object()[key] = std::move(value);
        }
        return v.check(copy, schema);
    };
    EXPECT_FALSE(broken("dag_id", nullptr).empty());           // not nullable
    EXPECT_FALSE(broken("dag_id", 3).empty());                 // wrong type
    EXPECT_FALSE(broken("state", "sleeping").empty());         // not in the enum
    EXPECT_FALSE(broken("logical_date", "yesterday").empty());  // not a date-time
    EXPECT_FALSE(broken("conf", "<absent>").empty());          // required
    EXPECT_FALSE(broken("parent", "x").empty());               // unknown
    EXPECT_TRUE(broken("note", "a note").empty());

    // A schedule is exactly one of TimeDelta and CronExpression; an array checks its items.
    EXPECT_TRUE(v.check(json::parse(R"({"__type":"CronExpression","value":"@daily"})"),
                        schema_of("ScheduleInterval?"))
                    .empty());
    EXPECT_TRUE(v.check(nullptr, schema_of("ScheduleInterval?")).empty());
    EXPECT_FALSE(v.check(json::parse(R"({"__type":"CronExpression"})"),
                         schema_of("ScheduleInterval"))
                     .empty());
    EXPECT_FALSE(v.check(json::parse(R"([{"name":"a"},{"name":1}])"), schema_of("Tag[]")).empty());
    EXPECT_FALSE(v.check(json::parse(R"({"a":"x"})"), schema_of("map<integer>")).empty());
}

// Every route and method has its row in schemas.cpp, and every schema the document names exists.
TEST(OpenApiSchemaTest, EveryRouteAndMethodHasItsSchemas) {
    for (const RouteSpec& route : routes()) {
        for (auto method : route.methods) {
            EXPECT_NE(find_operation_schema(route.endpoint, method), nullptr)
                << boost::beast::http::to_string(method) << " " << route.path
                << " has no row in src/api/schemas.cpp (operation_table): say what it answers "
                   "and accepts there";
        }
    }
    for (const OperationSchema& op : operation_schemas()) {
        bool served = false;
        for (const RouteSpec& route : routes()) {
            for (auto m : route.methods) {
                served = served || (route.endpoint == op.endpoint && m == op.method);
            }
        }
        EXPECT_TRUE(served) << "a row of operation_table names a method its route does not serve: "
                            << boost::beast::http::to_string(op.method) << " "
                            << static_cast<int>(op.endpoint);
    }
    // Every $ref anywhere in the document resolves.
    const json::object doc = openapi_document("test");
    const SchemaValidator validator(doc);
    std::vector<const json::value*> pending{};
    const json::value whole(doc);
    pending.push_back(&whole);
    int refs = 0;
    while (!pending.empty()) {
        const json::value* v = pending.back();
        pending.pop_back();
        if (v->is_array()) {
            for (const auto& item : v->as_array()) pending.push_back(&item);
        } else if (v->is_object()) {
            for (const auto& [key, item] : v->as_object()) {
                if (key == "$ref") {
                    ++refs;
                    EXPECT_NE(validator.resolve(item.as_string()), nullptr) << item;
                } else {
                    pending.push_back(&item);
                }
            }
        }
    }
    EXPECT_GT(refs, 100);
}

// --- the answers of a real API ----------------------------------------------------------------

constexpr const char* kShapesDag = R"(dag_id: shapes
description: Every shape of the API
tags: [schema, api]
is_paused_upon_creation: false
schedule: "0 6 * * *"
start_date: 2099-01-01
default_args: {owner: ana}
params:
  count: {type: integer, minimum: 1, default: 1, description: how many}
tasks:
  first:
    command:
      script: 'echo "{\"n\": $COUNT}"'
      env: {COUNT: "{{ params.count }}"}
  second:
    upstream: [first]
    command: 'echo done'
  third:
    upstream: [first]
    expand: {n: [1, 2]}
    command: 'echo mapped'
)";

// Paused: it never runs; it makes /ui/services list a caller of SVC_A.
constexpr const char* kCallerDag = R"(dag_id: caller
tasks:
  ask:
    http: {service: svc_a, method: GET, path: /things}
)";

constexpr const char* kBrokenDag = "dag_id: broken\ntasks:\n  a:\n    comand: \"true\"\n";

registry::InstanceInfo instance(const std::string& app, const std::string& id) {
    registry::InstanceInfo i;
    i.instance_id = id;
    i.host_name = "host-" + id;
    i.app = app;
    i.ip_addr = "127.0.0.1";
    i.port = {9, true};
    i.vip_address = to_lower(app);
    i.set_metadata("zone", "zone-1");
    i.health_check_url = "http://127.0.0.1:9/health";
    return i;
}

using Headers = std::vector<std::pair<std::string, std::string>>;

// One request of the tour: the route it reaches, the concrete target, a body, the status it
// must answer.
struct Sample {
    std::string method;
    std::string route;   // as routes.cpp writes it
    std::string target;  // below /api/v1; {file_token}, {import_error_id}, {event_log_id} filled
    std::string body;
    int status;
};

class OpenApiAnswersTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(stack_.start_registry());
        ASSERT_TRUE(stack_.registry().register_instance("SVC_A", instance("SVC_A", "a-1")));
        catalog_.emplace(stack_.registry());
        ApiOptions options;
        options.catalog = &*catalog_;
        options.config = {{"core", {{"dags_folder", "/srv/dags"}, {"secret_key", "abc"}}},
                          {"api", {{"base_url", "http://localhost:8080"}}}};
        auto started = stack_.start_api(
            {{"shapes.yaml", kShapesDag}, {"caller.yaml", kCallerDag}, {"broken.yaml", kBrokenDag}},
            options);
        ASSERT_TRUE(started) << started.error().message;
    }

    testing::Reply call(const std::string& method, const std::string& target,
                        const std::string& body = "") {
        Headers headers{{"Authorization",
                         "Basic " + base64_encode(std::string(testing::ApiStack::kUser) + ":" +
                                                  testing::ApiStack::kPassword)}};
        if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
            headers.emplace_back("Content-Type", "application/json");
        }
        return testing::request(stack_.api_port(), method, "/api/v1" + target,
                                body.empty() && method != "GET" && method != "DELETE" ? "{}"
                                                                                      : body,
                                headers);
    }

    bool run_finished(const std::string& run_id) {
        auto r = call("GET", "/dags/shapes/dagRuns/" + run_id);
        if (r.status != 200) return false;
        const auto state = json::parse(r.body).at("state");
        return state == json::value("success") || state == json::value("failed");
    }

    testing::ApiStack stack_;
    std::optional<app::RegistryCatalog> catalog_;
};

TEST_F(OpenApiAnswersTest, EveryRouteAnswersWhatTheDocumentSays) {
    const auto doc_reply = call("GET", "/openapi.json");
    ASSERT_EQ(doc_reply.status, 200);
    const json::object doc = json::parse(doc_reply.body).as_object();
    const SchemaValidator validator(doc);
    const json::object& paths = doc.at("paths").as_object();

    // Data for every shape: a run that finished (r1), one to delete (r2).
    const std::vector<Sample> kSamples = {
        {"POST", "/dags/{dag_id}/dagRuns", "/dags/shapes/dagRuns",
         R"({"dag_run_id":"r1","conf":{"count":2},"note":"first"})", 200},
        {"POST", "/dags/{dag_id}/dagRuns", "/dags/shapes/dagRuns", R"({"dag_run_id":"r2"})",
         200},
    };
    const std::vector<Sample> kAfterRuns = {
        {"GET", "/health", "/health", "", 200},
        {"GET", "/version", "/version", "", 200},
        {"GET", "/openapi.json", "/openapi.json", "", 200},
        {"GET", "/config", "/config", "", 200},
        {"GET", "/config/section/{section}/option/{option}",
         "/config/section/core/option/secret_key", "", 200},
        {"GET", "/dags", "/dags", "", 200},
        {"GET", "/dags/{dag_id}", "/dags/shapes", "", 200},
        {"PATCH", "/dags/{dag_id}", "/dags/caller", R"({"is_paused":true})", 200},
        {"GET", "/dags/{dag_id}/details", "/dags/shapes/details", "", 200},
        {"GET", "/dags/{dag_id}/tasks", "/dags/shapes/tasks", "", 200},
        {"GET", "/dags/{dag_id}/tasks/{task_id}", "/dags/shapes/tasks/first", "", 200},
        {"GET", "/dagSources/{file_token}", "/dagSources/{file_token}", "", 200},
        {"GET", "/dags/{dag_id}/dagRuns", "/dags/~/dagRuns", "", 200},
        {"GET", "/dags/{dag_id}/dagRuns/{dag_run_id}", "/dags/shapes/dagRuns/r1", "", 200},
        {"POST", "/dags/~/dagRuns/list", "/dags/~/dagRuns/list", R"({"dag_ids":["shapes"]})",
         200},
        {"POST", "/dags/{dag_id}/dagRuns/{dag_run_id}/clear", "/dags/shapes/dagRuns/r1/clear",
         R"({"dry_run":true})", 200},
        {"GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances",
         "/dags/~/dagRuns/~/taskInstances", "", 200},
        {"POST", "/dags/~/dagRuns/~/taskInstances/list", "/dags/~/dagRuns/~/taskInstances/list",
         R"({"dag_ids":["shapes"]})", 200},
        {"GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}",
         "/dags/shapes/dagRuns/r1/taskInstances/first", "", 200},
        {"GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries",
         "/dags/shapes/dagRuns/r1/taskInstances/first/tries", "", 200},
        {"GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/listMapped",
         "/dags/shapes/dagRuns/r1/taskInstances/third/listMapped", "", 200},
        {"GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}",
         "/dags/shapes/dagRuns/r1/taskInstances/third/1", "", 200},
        {"GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/tries",
         "/dags/shapes/dagRuns/r1/taskInstances/third/1/tries", "", 200},
        {"GET",
         "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{task_try_number}",
         "/dags/shapes/dagRuns/r1/taskInstances/first/logs/1", "", 200},
        {"GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries",
         "/dags/shapes/dagRuns/r1/taskInstances/first/xcomEntries", "", 200},
        {"GET",
         "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{xcom_key}",
         "/dags/shapes/dagRuns/r1/taskInstances/first/xcomEntries/return_value", "", 200},
        {"POST", "/dags/{dag_id}/clearTaskInstances", "/dags/shapes/clearTaskInstances",
         R"({"dry_run":true,"dag_run_id":"r1"})", 200},
        {"POST", "/dags/{dag_id}/updateTaskInstancesState",
         "/dags/shapes/updateTaskInstancesState",
         R"({"dry_run":true,"task_id":"first","dag_run_id":"r1","new_state":"success"})", 200},
        {"PATCH", "/dags/{dag_id}/dagRuns/{dag_run_id}", "/dags/shapes/dagRuns/r2",
         R"({"state":"failed"})", 200},
        {"DELETE", "/dags/{dag_id}/dagRuns/{dag_run_id}", "/dags/shapes/dagRuns/r2", "", 204},
        {"GET", "/importErrors", "/importErrors", "", 200},
        {"GET", "/importErrors/{import_error_id}", "/importErrors/{import_error_id}", "", 200},
        {"POST", "/variables", "/variables", R"({"key":"region","value":"eu"})", 200},
        {"POST", "/variables", "/variables", R"({"key":"api_token","value":"t0k"})", 200},
        {"GET", "/variables", "/variables", "", 200},
        {"PATCH", "/variables/{variable_key}", "/variables/region",
         R"({"key":"region","value":"us","description":"where"})", 200},
        {"GET", "/variables/{variable_key}", "/variables/region", "", 200},
        {"DELETE", "/variables/{variable_key}", "/variables/api_token", "", 204},
        {"POST", "/pools", "/pools", R"({"name":"etl","slots":4,"description":"loads"})", 200},
        {"POST", "/pools", "/pools", R"({"name":"gone","slots":1})", 200},
        {"GET", "/pools", "/pools", "", 200},
        {"PATCH", "/pools/{pool_name}", "/pools/etl", R"({"slots":6})", 200},
        {"GET", "/pools/{pool_name}", "/pools/etl", "", 200},
        {"DELETE", "/pools/{pool_name}", "/pools/gone", "", 204},
        {"POST", "/connections", "/connections",
         R"({"connection_id":"api","conn_type":"http","host":"h","port":80,"password":"pw",
             "extra":"{\"token\":\"x\"}"})",
         200},
        {"POST", "/connections", "/connections", R"({"connection_id":"gone","conn_type":"http"})",
         200},
        {"GET", "/connections", "/connections", "", 200},
        {"PATCH", "/connections/{connection_id}", "/connections/api", R"({"login":"ana"})", 200},
        {"GET", "/connections/{connection_id}", "/connections/api", "", 200},
        {"DELETE", "/connections/{connection_id}", "/connections/gone", "", 204},
        {"POST", "/users", "/users",
         R"({"username":"bia","email":"bia@example.com","first_name":"Bia","last_name":"S",
             "password":"bia-secret-1","roles":[{"name":"Viewer"}]})",
         200},
        {"POST", "/users", "/users",
         R"({"username":"gone","email":"gone@example.com","first_name":"G","last_name":"O",
             "password":"gone-secret-1","roles":[{"name":"User"}]})",
         200},
        {"GET", "/users", "/users", "", 200},
        {"PATCH", "/users/{username}", "/users/bia", R"({"first_name":"Beatriz"})", 200},
        {"GET", "/users/{username}", "/users/bia", "", 200},
        {"DELETE", "/users/{username}", "/users/gone", "", 204},
        {"GET", "/roles", "/roles", "", 200},
        {"GET", "/roles/{role_name}", "/roles/Op", "", 200},
        {"GET", "/eventLogs", "/eventLogs", "", 200},
        {"GET", "/eventLogs/{event_log_id}", "/eventLogs/{event_log_id}", "", 200},
        {"POST", "/ui/session", "/ui/session",
         R"({"username":"admin","password":"admin-secret"})", 200},
        {"GET", "/ui/session", "/ui/session", "", 200},
        {"DELETE", "/ui/session", "/ui/session", "", 204},
        {"GET", "/ui/dags", "/ui/dags", "", 200},
        {"GET", "/ui/dags/{dag_id}/grid", "/ui/dags/shapes/grid", "", 200},
        {"GET", "/ui/services", "/ui/services", "", 200},
        {"PUT", "/ui/services/{app}/instances/{instance_id}/status",
         "/ui/services/svc_a/instances/a-1/status", R"({"status":"OUT_OF_SERVICE"})", 200},
        {"DELETE", "/ui/services/{app}/instances/{instance_id}/status",
         "/ui/services/svc_a/instances/a-1/status", "", 200},
        {"GET", "/services/{service}/breakers", "/services/~/breakers", "", 200},
        {"GET", "/services/{service}/breakers", "/services/svc_a/breakers", "", 200},
    };

    std::set<std::pair<std::string, std::string>> covered;  // (method, route)
    std::map<std::string, std::string> fill;
    auto tour = [&](const std::vector<Sample>& samples) {
        for (const Sample& s : samples) {
            std::string target = s.target;
            for (const auto& [name, value] : fill) {
                if (auto at = target.find(name); at != std::string::npos) {
                    target.replace(at, name.size(), value);
                }
            }
            const std::string what = s.method + " " + target;
            covered.emplace(s.method, s.route);
            auto reply = call(s.method, target, s.body);
            ASSERT_EQ(reply.status, s.status) << what << ": " << reply.body;
            ASSERT_TRUE(paths.contains(s.route)) << "the document has no path " << s.route;
            std::string method = s.method;
            for (char& c : method) c = static_cast<char>(c - 'A' + 'a');
            const auto* op = paths.at(s.route).as_object().if_contains(method);
            ASSERT_NE(op, nullptr) << "the document has no " << s.method << " " << s.route;
            const auto& responses = op->as_object().at("responses").as_object();
            const std::string code = std::to_string(s.status);
            ASSERT_TRUE(responses.contains(code)) << what << " answered " << code
                                                  << ", which the document does not list";
            const auto* content = responses.at(code).as_object().if_contains("content");
            if (s.status == 204) {
                EXPECT_EQ(content, nullptr) << what;
                EXPECT_TRUE(reply.body.empty()) << what << ": " << reply.body;
                continue;
            }
            ASSERT_NE(content, nullptr) << what;
            const auto& schema =
                content->as_object().at("application/json").as_object().at("schema");
            boost::system::error_code ec;
            const json::value body = json::parse(reply.body, ec);
            ASSERT_FALSE(ec) << what << ": not JSON: " << reply.body;
            for (const auto& error : validator.check(body, schema)) {
                ADD_FAILURE() << what << " (" << s.route << "): " << error << "\n  body: "
                              << reply.body;
            }
        }
    };
    tour(kSamples);
    ASSERT_TRUE(testing::eventually([&] { return run_finished("r1") && run_finished("r2"); }))
        << "the runs did not finish";
    // The ids the later samples need.
    const json::value dag = json::parse(call("GET", "/dags/shapes").body);
    fill["{file_token}"] = std::string(dag.at("file_token").as_string());
    const json::value errors = json::parse(call("GET", "/importErrors").body);
    ASSERT_FALSE(errors.at("import_errors").as_array().empty());
    fill["{import_error_id}"] =
        json::serialize(errors.at("import_errors").as_array()[0].at("import_error_id"));
    const json::value events = json::parse(call("GET", "/eventLogs").body);
    ASSERT_FALSE(events.at("event_logs").as_array().empty());
    fill["{event_log_id}"] =
        json::serialize(events.at("event_logs").as_array()[0].at("event_log_id"));
    tour(kAfterRuns);

    // An error answer is an Error, as every operation documents it.
    {
        auto reply = call("GET", "/dags/nothing");
        ASSERT_EQ(reply.status, 404);
        const auto& schema = paths.at("/dags/{dag_id}")
                                 .at("get")
                                 .at("responses")
                                 .at("404")
                                 .at("content")
                                 .at("application/problem+json")
                                 .at("schema");
        for (const auto& error : validator.check(json::parse(reply.body), schema)) {
            ADD_FAILURE() << "GET /dags/nothing: " << error;
        }
    }

    // Every route and method was called once at least: a new one needs its sample above.
    for (const RouteSpec& route : routes()) {
        for (auto m : route.methods) {
            const std::string method(boost::beast::http::to_string(m));
            EXPECT_TRUE(covered.contains({method, std::string(route.path)}))
                << method << " " << route.path
                << " has no sample request in tests/api/openapi_schema_test.cpp (kAfterRuns): "
                   "add one, so that its answer is checked against its schema";
        }
    }
}

}  // namespace
}  // namespace orquestra::api
