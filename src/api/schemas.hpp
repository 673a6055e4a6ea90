#pragma once
// The schemas of the API's JSON bodies, in one table (schemas.cpp) written next to the shapes
// it describes (shapes.cpp and the other handlers' *_json functions): the named component
// schemas, and which of them each route's methods answer with and accept. openapi.cpp puts both
// into /openapi.json; tests/api/openapi_schema_test.cpp checks real answers against them, and
// names any route and method that has no row here. Pure data; thread-safe.
//
// The table's notation for a type:
//   string, integer, number, boolean, datetime (an ISO 8601 string), object (any object),
//   any (any JSON value); Name (a component schema, as $ref); T[] (an array of T);
//   map<T> (an object whose values are T); A|B (exactly one of them); a trailing `?`: also null.
// A property whose name ends with `?` may be absent; every other property is always written,
// hence `required`.

#include <ostream>  // boost/core/detail/string_view.hpp needs it

#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>
#include <span>
#include <string_view>

#include "api/routes.hpp"

namespace orquestra::api {

// What one method of one route answers with and accepts.
struct OperationSchema {
    Endpoint endpoint;
    boost::beast::http::verb method;
    std::string_view response;  // the 200 body's type; "" for 204 No Content
    std::string_view request;   // the request body's type; "" when it takes none
};

std::span<const OperationSchema> operation_schemas();
// The row for a route's method, or nullptr (then the route is missing from the table).
const OperationSchema* find_operation_schema(Endpoint endpoint, boost::beast::http::verb method);

// components/schemas: every named schema as OpenAPI 3.0 writes it.
boost::json::object component_schemas();
// A type in the table's notation as an OpenAPI 3.0 schema ("DAGRun?" -> allOf $ref, nullable).
boost::json::object schema_of(std::string_view type);

}  // namespace orquestra::api
