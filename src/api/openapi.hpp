#pragma once
// The OpenAPI 3 document of what ApiServer serves, built from the route table (routes.hpp) so
// that it lists exactly the served paths and methods. Pure; thread-safe.

#include <boost/json/object.hpp>
#include <string_view>

namespace orquestra::api {

boost::json::object openapi_document(std::string_view version);

}  // namespace orquestra::api
