#include "api/routes.hpp"

#include <array>

namespace orquestra::api {

namespace {

using V = boost::beast::http::verb;

// Ordered by resource, as the OpenAPI document lists them.
const std::vector<RouteSpec>& table() {
    static const std::vector<RouteSpec> kRoutes = {
        {Endpoint::kHealth, "/health", {V::get}, Access::kPublic, "Monitoring",
         "Health of the metadatabase and the scheduler"},
        {Endpoint::kVersion, "/version", {V::get}, Access::kPublic, "Monitoring",
         "Version of the server"},
        {Endpoint::kOpenApi, "/openapi.json", {V::get}, Access::kPublic, "Monitoring",
         "This OpenAPI document"},
        {Endpoint::kConfig, "/config", {V::get}, Access::kAdmin, "Config",
         "Current configuration, secrets hidden"},
        {Endpoint::kConfigOption, "/config/section/{section}/option/{option}", {V::get},
         Access::kAdmin, "Config", "One option of the configuration, secrets hidden"},
        {Endpoint::kDags, "/dags", {V::get}, Access::kReadEdit, "DAG", "List DAGs"},
        {Endpoint::kDag, "/dags/{dag_id}", {V::get, V::patch}, Access::kReadEdit, "DAG",
         "Get a DAG, or pause and unpause it"},
        {Endpoint::kDagDetails, "/dags/{dag_id}/details", {V::get}, Access::kReadEdit, "DAG",
         "Get a DAG's details"},
        {Endpoint::kTasks, "/dags/{dag_id}/tasks", {V::get}, Access::kReadEdit, "DAG",
         "List a DAG's tasks"},
        {Endpoint::kTask, "/dags/{dag_id}/tasks/{task_id}", {V::get}, Access::kReadEdit, "DAG",
         "Get a DAG's task"},
        {Endpoint::kClearTaskInstances, "/dags/{dag_id}/clearTaskInstances", {V::post},
         Access::kReadEdit, "DAG", "Clear task instances of a DAG"},
        {Endpoint::kUpdateTaskInstancesState, "/dags/{dag_id}/updateTaskInstancesState",
         {V::post}, Access::kReadEdit, "DAG", "Set the state of task instances of a DAG"},
        {Endpoint::kDagRuns, "/dags/{dag_id}/dagRuns", {V::get, V::post}, Access::kReadEdit,
         "DAGRun", "List a DAG's runs ('~' for every DAG), or trigger a run"},
        {Endpoint::kListRuns, "/dags/~/dagRuns/list", {V::post}, Access::kRead, "DAGRun",
         "List runs of every DAG, the filters in the body"},
        {Endpoint::kDagRun, "/dags/{dag_id}/dagRuns/{dag_run_id}", {V::get, V::patch, V::delete_},
         Access::kReadEdit, "DAGRun", "Get, set the state of, or delete a run"},
        {Endpoint::kClearRun, "/dags/{dag_id}/dagRuns/{dag_run_id}/clear", {V::post},
         Access::kReadEdit, "DAGRun", "Clear a run"},
        {Endpoint::kTaskInstances, "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances", {V::get},
         Access::kReadEdit, "TaskInstance", "List task instances ('~' for every DAG or run)"},
        {Endpoint::kListTaskInstances, "/dags/~/dagRuns/~/taskInstances/list", {V::post},
         Access::kRead, "TaskInstance", "List task instances, the filters in the body"},
        {Endpoint::kTaskInstance, "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}",
         {V::get}, Access::kReadEdit, "TaskInstance", "Get a task instance"},
        {Endpoint::kTries, "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries",
         {V::get}, Access::kReadEdit, "TaskInstance", "List every try of a task instance"},
        {Endpoint::kMappedTaskInstances,
         "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/listMapped", {V::get},
         Access::kReadEdit, "TaskInstance", "List a mapped task's instances"},
        {Endpoint::kMappedTaskInstance,
         "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}", {V::get},
         Access::kReadEdit, "TaskInstance", "Get a mapped task instance"},
        {Endpoint::kMappedTries,
         "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/tries",
         {V::get}, Access::kReadEdit, "TaskInstance", "List every try of a mapped task instance"},
        {Endpoint::kLog,
         "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{task_try_number}",
         {V::get}, Access::kReadEdit, "TaskInstance", "Get a try's log"},
        {Endpoint::kXcoms,
         "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries", {V::get},
         Access::kReadEdit, "XCom", "List a task instance's XCom entries"},
        {Endpoint::kXcom,
         "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{xcom_key}",
         {V::get}, Access::kReadEdit, "XCom", "Get an XCom entry"},
        {Endpoint::kDagSource, "/dagSources/{file_token}", {V::get}, Access::kReadEdit,
         "DAG", "Get a DAG file's source"},
        {Endpoint::kImportErrors, "/importErrors", {V::get}, Access::kReadEdit, "ImportError",
         "List import errors"},
        {Endpoint::kImportError, "/importErrors/{import_error_id}", {V::get}, Access::kReadEdit,
         "ImportError", "Get an import error"},
        {Endpoint::kVariables, "/variables", {V::get, V::post}, Access::kOperateAll, "Variable",
         "List variables, or create (or replace) one"},
        {Endpoint::kVariable, "/variables/{variable_key}", {V::get, V::patch, V::delete_},
         Access::kOperateAll, "Variable", "Get, update or delete a variable"},
        {Endpoint::kConnections, "/connections", {V::get, V::post}, Access::kOperateAll,
         "Connection", "List connections, or create one"},
        {Endpoint::kConnection, "/connections/{connection_id}", {V::get, V::patch, V::delete_},
         Access::kOperateAll, "Connection", "Get, update or delete a connection"},
        {Endpoint::kPools, "/pools", {V::get, V::post}, Access::kOperateAll, "Pool",
         "List pools, or create one"},
        {Endpoint::kPool, "/pools/{pool_name}", {V::get, V::patch, V::delete_},
         Access::kOperateAll, "Pool", "Get, update or delete a pool"},
        {Endpoint::kEventLogs, "/eventLogs", {V::get}, Access::kReadEdit, "EventLog",
         "List the audit log's events"},
        {Endpoint::kEventLog, "/eventLogs/{event_log_id}", {V::get}, Access::kReadEdit,
         "EventLog", "Get an event of the audit log"},
        {Endpoint::kUsers, "/users", {V::get, V::post}, Access::kAdmin, "User",
         "List users, or create one"},
        {Endpoint::kUser, "/users/{username}", {V::get, V::patch, V::delete_}, Access::kAdmin,
         "User", "Get, update or delete a user"},
        {Endpoint::kRoles, "/roles", {V::get}, Access::kAdmin, "Role", "List roles"},
        {Endpoint::kRole, "/roles/{role_name}", {V::get}, Access::kAdmin, "Role", "Get a role"},
        {Endpoint::kUiSession, "/ui/session", {V::get, V::post, V::delete_}, Access::kSession,
         "Console", "The console's session: who is logged in, log in, log out"},
        {Endpoint::kUiDags, "/ui/dags", {V::get}, Access::kReadEdit, "Console",
         "Every DAG with its recent runs and services"},
        {Endpoint::kUiGrid, "/ui/dags/{dag_id}/grid", {V::get}, Access::kReadEdit, "Console",
         "A DAG's tasks and recent runs as a grid"},
        {Endpoint::kUiServices, "/ui/services", {V::get}, Access::kReadEdit, "Console",
         "The service registry and the DAGs that use each service"},
        {Endpoint::kUiInstanceStatus, "/ui/services/{app}/instances/{instance_id}/status",
         {V::put, V::delete_}, Access::kOperate, "Console",
         "Set or remove a service instance's status override"},
        {Endpoint::kServiceBreakers, "/services/{service}/breakers", {V::get},
         Access::kReadEdit, "Console",
         "The circuit breakers of a service's instances ('~' for every service called)"},
    };
    return kRoutes;
}

bool is_parameter(std::string_view segment) {
    return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

std::span<const RouteSpec> routes() { return table(); }

std::vector<std::string_view> pattern_segments(std::string_view path) {
    std::vector<std::string_view> out;
    while (!path.empty()) {
        if (path.front() == '/') path.remove_prefix(1);
        const auto end = path.find('/');
        out.push_back(path.substr(0, end));
        path = end == std::string_view::npos ? std::string_view() : path.substr(end);
    }
    return out;
}

const RouteSpec* match_route(const std::vector<std::string>& segments) {
    // Compiled once: each route's segments, and whether each one is a parameter.
    struct Compiled {
        const RouteSpec* spec;
        std::vector<std::string_view> parts;
    };
    static const std::vector<Compiled> kCompiled = [] {
        std::vector<Compiled> out;
        for (const RouteSpec& r : table()) out.push_back({&r, pattern_segments(r.path)});
        return out;
    }();
    const RouteSpec* best = nullptr;
    const std::vector<std::string_view>* best_parts = nullptr;
    for (const Compiled& c : kCompiled) {
        if (c.parts.size() != segments.size()) continue;
        bool ok = true;
        for (std::size_t i = 0; ok && i < segments.size(); ++i) {
            ok = is_parameter(c.parts[i]) || c.parts[i] == segments[i];
        }
        if (!ok) continue;
        if (best != nullptr) {
            // The more specific wins: the first segment where one has a literal and the other
            // a parameter decides.
            bool more_specific = false;
            for (std::size_t i = 0; i < segments.size(); ++i) {
                const bool mine = !is_parameter(c.parts[i]);
                const bool theirs = !is_parameter((*best_parts)[i]);
                if (mine != theirs) {
                    more_specific = mine;
                    break;
                }
            }
            if (!more_specific) continue;
        }
        best = c.spec;
        best_parts = &c.parts;
    }
    return best;
}

}  // namespace orquestra::api
