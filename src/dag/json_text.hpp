#pragma once
// JSON value helpers shared by templates and params: text forms, Python-like truthiness,
// numeric-aware equality and ordering. Pure functions; thread-safe.

#include <boost/json/value.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "core/strings.hpp"  // utf8_length, used with these helpers

namespace orquestra::dag {

// Compact JSON text. Doubles use the shortest form that reads back exactly ("1.5", "2", "1e+20").
std::string to_json_text(const boost::json::value& v);

// The text a template writes for a value inside other text: strings as they are, every other
// value as JSON text (null -> "null", true -> "true", [1,2] -> "[1,2]").
std::string to_text(const boost::json::value& v);

// Python-like: null, false, 0, 0.0, "", [] and {} are false; everything else is true.
bool truthy(const boost::json::value& v);

// Deep equality where numbers compare by value across int64, uint64 and double (1 == 1.0);
// other kinds must match exactly (true != 1).
bool json_equal(const boost::json::value& a, const boost::json::value& b);

// -1, 0 or 1. Both values must be numbers.
int compare_numbers(const boost::json::value& a, const boost::json::value& b);

// "null", "boolean", "integer", "number", "string", "list", "object": for error messages.
std::string_view kind_name(const boost::json::value& v);

}  // namespace orquestra::dag
