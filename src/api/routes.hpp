#pragma once
// The API's route table: every path ApiServer serves under /api/v1, with its methods, who may
// call it and a one-line summary. The router (match) and the OpenAPI document (openapi.cpp) are
// both read from this one table, so what is documented and what is served cannot drift apart.
// Pure data and pure functions; thread-safe.

#include <ostream>  // boost/core/detail/string_view.hpp needs it

#include <boost/beast/http/verb.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace orquestra::api {

enum class Endpoint {
    kHealth,
    kVersion,
    kOpenApi,
    kDags,
    kDag,
    kDagDetails,
    kTasks,
    kTask,
    kDagRuns,
    kDagRun,
    kClearRun,
    kTaskInstances,
    kTaskInstance,
    kLog,
    kXcoms,
    kXcom,
    kClearTaskInstances,
    kUpdateTaskInstancesState,
    kImportErrors,
    kImportError,
    kTries,
    kDagSource,
    kListRuns,
    kListTaskInstances,
    kUsers,
    kUser,
    kRoles,
    kRole,
    kConfig,
    kConfigOption,
    kEventLogs,
    kEventLog,
    kUiSession,
    kUiDags,
    kUiGrid,
    kUiServices,
    kUiInstanceStatus,
    kServiceBreakers,
    kVariables,
    kVariable,
    kConnections,
    kConnection,
    kPools,
    kPool,
    kMappedTaskInstances,
    kMappedTaskInstance,
    kMappedTries,
};

// Who may call a route: kPublic needs no credentials; kReadEdit lets every role GET and needs
// the edit permission (User, Op, Admin) for other methods; kRead is a read whatever the method
// (the batch lists POST their filters); kOperate needs Op or Admin for changes; kOperateAll
// needs Op or Admin for reads too (variables and connections, as Airflow's roles); kAdmin needs
// Admin for everything; kSession is the console's session resource (its POST is the login).
enum class Access { kPublic, kRead, kReadEdit, kOperate, kOperateAll, kAdmin, kSession };

struct RouteSpec {
    Endpoint endpoint;
    // Below /api/v1, with `{name}` for a path parameter: "/dags/{dag_id}/dagRuns".
    std::string_view path;
    std::vector<boost::beast::http::verb> methods;
    Access access;
    std::string_view tag;      // the OpenAPI tag (Airflow's where there is one)
    std::string_view summary;  // what it does, one line
};

std::span<const RouteSpec> routes();

// The route serving the decoded segments of a path below /api/v1, or nullptr. Literal segments
// win over parameters ("/dags/~/dagRuns/list" over "/dags/{dag_id}/dagRuns/{dag_run_id}").
const RouteSpec* match_route(const std::vector<std::string>& segments);

// A path's segments with each `{name}` kept as written.
std::vector<std::string_view> pattern_segments(std::string_view path);

}  // namespace orquestra::api
