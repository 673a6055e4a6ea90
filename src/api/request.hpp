#pragma once
// Reading what a client sent: the path below /api/v1 split into decoded segments, query
// parameters (paging, booleans, datetimes, repeated values) and JSON bodies with typed fields.
// Every failure is a kInvalidArgument naming the parameter or field and the rule, which the
// API answers with 400. Pure functions; thread-safe.

#include <boost/json/object.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "http/message.hpp"

namespace orquestra::api {

inline constexpr int kMaxPageLimit = 100;

// The segments of `path` after `prefix` ("/api/v1"), percent-decoded ('+' stays '+').
// nullopt when the path is not below the prefix or a segment is malformed.
std::optional<std::vector<std::string>> split_path(std::string_view path, std::string_view prefix);

struct Paging {
    int limit = kMaxPageLimit;
    int offset = 0;
};
// limit defaults to 100 and is capped at 100 (as Airflow caps it at maximum_page_limit);
// negative or non-numeric values are errors.
Result<Paging> parse_paging(const http::Request& req);
// "true"/"false" (any case), "1"/"0".
Result<std::optional<bool>> query_bool(const http::Request& req, std::string_view name);
// ISO 8601; a '+' of the offset that arrived unencoded (and so as a space) is put back.
Result<std::optional<Millis>> query_datetime(const http::Request& req, std::string_view name);
// Every value of a repeated parameter (?state=a&state=b); with split_commas, "a,b" is two.
std::vector<std::string> query_all(const http::Request& req, std::string_view name,
                                   bool split_commas);

// The body as a JSON object; an empty body is {}.
Result<boost::json::object> parse_body(const http::Request& req);
// kInvalidArgument for a field not in `known`.
Result<void> only_fields(const boost::json::object& body,
                         std::initializer_list<std::string_view> known);
// A field that is absent or null gives nullopt; a value of another type is an error.
Result<std::optional<bool>> field_bool(const boost::json::object& body, std::string_view name);
Result<std::optional<std::string>> field_string(const boost::json::object& body,
                                                std::string_view name);
Result<std::optional<Millis>> field_datetime(const boost::json::object& body,
                                             std::string_view name);
Result<std::optional<std::vector<std::string>>> field_strings(const boost::json::object& body,
                                                              std::string_view name);
// An integer within [min, max].
Result<std::optional<long long>> field_int(const boost::json::object& body, std::string_view name,
                                           long long min, long long max);
// Datetime fields into their targets (an absent or null field leaves nullopt).
Result<void> field_datetimes(
    const boost::json::object& body,
    std::initializer_list<std::pair<std::string_view, std::optional<Millis>*>> fields);
// A body's page_offset and page_limit (Airflow's batch lists), as parse_paging reads the query:
// limit defaults to 100 and is capped at 100.
Result<Paging> body_paging(const boost::json::object& body);

}  // namespace orquestra::api
