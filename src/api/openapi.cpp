#include "api/openapi.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "api/api.hpp"
#include "api/api_detail.hpp"
#include "api/routes.hpp"
#include "api/schemas.hpp"

namespace orquestra::api {

namespace {

using V = boost::beast::http::verb;

std::string method_name(V method) {
    std::string out(boost::beast::http::to_string(method));
    for (char& c : out) c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// get_dags_dag_id_dagRuns: unique, since a method appears once per path.
std::string operation_id(V method, std::string_view path) {
    std::string out = method_name(method);
    for (char c : path) {
        if (c == '/') {
            out += '_';
        } else if (c == '~') {
            out += "all";
        } else if (c != '{' && c != '}' && c != '.') {
            out += c;
        }
    }
    return out;
}

std::string_view access_text(Access access, V method) {
    const bool reads = method == V::get || method == V::head;
    switch (access) {
        case Access::kPublic:
            return "no credentials";
        case Access::kRead:
        case Access::kSession:
            return "any role";
        case Access::kReadEdit:
            return reads ? "any role" : "User, Op or Admin";
        case Access::kOperate:
            return reads ? "any role" : "Op or Admin";
        case Access::kOperateAll:
            return "Op or Admin";
        case Access::kAdmin:
            return "Admin";
    }
    return "Admin";
}

json::object problem_response(std::string_view description) {
    return json::object{
        {"description", description},
        {"content",
         json::object{{"application/problem+json",
                       json::object{{"schema", json::object{{"$ref",
                                                             "#/components/schemas/Error"}}}}}}}};
}

json::object operation(const RouteSpec& route, V method) {
    json::object op;
    op["operationId"] = operation_id(method, route.path);
    op["summary"] = route.summary;
    op["tags"] = json::array{json::string(route.tag)};
    op["x-orquestra-access"] = access_text(route.access, method);
    json::array parameters;
    for (std::string_view segment : pattern_segments(route.path)) {
        if (segment.size() < 2 || segment.front() != '{') continue;
        parameters.push_back(json::object{{"name", segment.substr(1, segment.size() - 2)},
                                          {"in", "path"},
                                          {"required", true},
                                          {"schema", json::object{{"type", "string"}}}});
    }
    if (!parameters.empty()) op["parameters"] = std::move(parameters);
    // The bodies' schemas come from schemas.cpp; a route missing there is documented with a
    // bare object (and fails openapi_schema_test).
    const OperationSchema* schemas = find_operation_schema(route.endpoint, method);
    const bool takes_body = method == V::post || method == V::patch || method == V::put;
    if (takes_body) {
        const bool typed = schemas != nullptr && !schemas->request.empty();
        op["requestBody"] = json::object{
            {"required", false},
            {"content",
             json::object{{"application/json",
                           json::object{{"schema", typed ? schema_of(schemas->request)
                                                         : json::object{{"type", "object"}}}}}}}};
    }
    json::object responses;
    if (schemas != nullptr ? schemas->response.empty() : method == V::delete_) {
        responses["204"] = json::object{{"description", "Done"}};
    } else {
        responses["200"] = json::object{
            {"description", "Success"},
            {"content",
             json::object{{"application/json",
                           json::object{{"schema", schemas != nullptr
                                                       ? schema_of(schemas->response)
                                                       : json::object{{"type", "object"}}}}}}}};
    }
    responses["400"] = problem_response("The request is malformed or a field is invalid");
    if (route.access != Access::kPublic) {
        responses["401"] = problem_response("No or wrong credentials");
        responses["403"] = problem_response("The user's role may not do this");
    }
    responses["404"] = problem_response("Not found");
    const bool changes = takes_body || method == V::delete_;
    if (changes && route.access != Access::kRead && route.access != Access::kSession) {
        responses["409"] = problem_response(
            "It conflicts with the current state (exists already, or the run is not finished)");
    }
    if (takes_body) {
        responses["415"] = problem_response("The body is not JSON");
    }
    op["responses"] = std::move(responses);
    if (route.access == Access::kPublic) op["security"] = json::array{};
    return op;
}

}  // namespace

json::object openapi_document(std::string_view version) {
    json::object paths;
    for (const RouteSpec& route : routes()) {
        json::object item;
        for (V method : route.methods) item[method_name(method)] = operation(route, method);
        paths[route.path] = std::move(item);
    }
    json::object doc;
    doc["openapi"] = "3.0.3";
    doc["info"] = json::object{
        {"title", "Orquestra REST API"},
        {"version", version},
        {"description",
         "The subset of Airflow's stable REST API v1 that Orquestra serves, and the console's "
         "own endpoints under /ui. Every other path under /api/v1 answers 404."}};
    doc["servers"] = json::array{json::object{{"url", ApiServer::kBasePath}}};
    doc["paths"] = std::move(paths);
    doc["components"] = json::object{
        {"securitySchemes",
         json::object{{"Basic", json::object{{"type", "http"}, {"scheme", "basic"}}}}},
        {"schemas", component_schemas()}};
    doc["security"] = json::array{json::object{{"Basic", json::array{}}}};
    return doc;
}

void ApiServer::get_openapi(Call& call) { send_json(call.res, openapi_document(options_.version)); }

}  // namespace orquestra::api
