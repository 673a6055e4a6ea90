#pragma once
// Small string helpers used across modules. None allocate unless they return a string.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orquestra {

std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
// True when `needle` occurs in `haystack`, ignoring ASCII case.
bool icontains(std::string_view haystack, std::string_view needle);
std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);
// Decodes %XX escapes (and '+' as space when `plus_is_space`). nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);
std::string percent_encode(std::string_view s);
// Parses a whole string as a signed 64-bit decimal integer.
std::optional<long long> parse_int(std::string_view s);
// Escapes text for HTML and XML element content and attribute values.
std::string xml_escape(std::string_view s);
std::string base64_decode(std::string_view s);
std::string base64_encode(std::string_view s);
// Length of UTF-8 text in code points (limits on text count characters, not bytes).
std::size_t utf8_length(std::string_view s);

}  // namespace orquestra
