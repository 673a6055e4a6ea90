#include "api/request.hpp"
#include "core/json_kind.hpp"

#include <fmt/format.h>

#include <algorithm>

#include <boost/json/parse.hpp>

#include "core/strings.hpp"
#include "dag/time_text.hpp"

namespace orquestra::api {

namespace json = boost::json;

namespace {

Error bad(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }


// ' ' back to '+' after the date: "2024-01-01T00:00:00 00:00" came from an unencoded '+'.
std::string restore_plus(std::string text) {
    for (std::size_t i = 11; i < text.size(); ++i) {
        if (text[i] == ' ') text[i] = '+';
    }
    return text;
}

}  // namespace

std::optional<std::vector<std::string>> split_path(std::string_view path, std::string_view prefix) {
    if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
    std::string_view rest = path.substr(prefix.size());
    if (!rest.empty() && rest.front() != '/') return std::nullopt;
    std::vector<std::string> out;
    for (auto part : split(rest, '/')) {
        if (part.empty()) continue;
        auto decoded = percent_decode(part, false);
        if (!decoded) return std::nullopt;
        out.push_back(std::move(*decoded));
    }
    return out;
}

Result<Paging> parse_paging(const http::Request& req) {
    Paging paging;
    if (auto limit = req.query_param("limit")) {
        auto n = parse_int(*limit);
        if (!n || *n < 0) {
            return bad(
                fmt::format("query parameter 'limit' must be an integer >= 0, not '{}'", *limit));
        }
        paging.limit = static_cast<int>(std::min<long long>(*n, kMaxPageLimit));
    }
    if (auto offset = req.query_param("offset")) {
        auto n = parse_int(*offset);
        if (!n || *n < 0 || *n > 1'000'000'000) {
            return bad(
                fmt::format("query parameter 'offset' must be an integer >= 0, not '{}'", *offset));
        }
        paging.offset = static_cast<int>(*n);
    }
    return paging;
}

Result<std::optional<bool>> query_bool(const http::Request& req, std::string_view name) {
    auto value = req.query_param(name);
    if (!value) return std::optional<bool>{};
    if (iequals(*value, "true") || *value == "1") return std::optional<bool>{true};
    if (iequals(*value, "false") || *value == "0") return std::optional<bool>{false};
    return bad(fmt::format("query parameter '{}' must be true or false, not '{}'", name, *value));
}

Result<std::optional<Millis>> query_datetime(const http::Request& req, std::string_view name) {
    auto value = req.query_param(name);
    if (!value) return std::optional<Millis>{};
    auto t = dag::parse_datetime(restore_plus(*value));
    if (!t) {
        return bad(fmt::format("query parameter '{}' must be an ISO 8601 datetime: {}", name,
                               t.error().message));
    }
    return std::optional<Millis>{*t};
}

std::vector<std::string> query_all(const http::Request& req, std::string_view name,
                                   bool split_commas) {
    std::vector<std::string> out;
    for (auto& [key, value] : req.query_params()) {
        if (key != name) continue;
        if (!split_commas) {
            out.push_back(value);
            continue;
        }
        for (auto part : split(value, ',')) {
            auto t = trim(part);
            if (!t.empty()) out.emplace_back(t);
        }
    }
    return out;
}

Result<json::object> parse_body(const http::Request& req) {
    if (trim(req.body()).empty()) return json::object();
    boost::system::error_code ec;
    auto value = json::parse(req.body(), ec);
    if (ec) return bad(fmt::format("the request body is not valid JSON: {}", ec.message()));
    if (!value.is_object()) {
        return bad(fmt::format("the request body must be a JSON object, not {}", json_kind_name(value)));
    }
    return std::move(value.as_object());
}

Result<void> only_fields(const json::object& body, std::initializer_list<std::string_view> known) {
    for (const auto& [key, value] : body) {
        bool found = false;
        for (auto k : known) found = found || k == key;
        if (!found) return bad(fmt::format("unknown field '{}'", std::string_view(key)));
    }
    return {};
}

Result<std::optional<bool>> field_bool(const json::object& body, std::string_view name) {
    const json::value* v = body.if_contains(name);
    if (v == nullptr || v->is_null()) return std::optional<bool>{};
    if (!v->is_bool()) {
        return bad(fmt::format("field '{}' must be a boolean, not {}", name, json_kind_name(*v)));
    }
    return std::optional<bool>{v->as_bool()};
}

Result<std::optional<std::string>> field_string(const json::object& body, std::string_view name) {
    const json::value* v = body.if_contains(name);
    if (v == nullptr || v->is_null()) return std::optional<std::string>{};
    if (!v->is_string()) {
        return bad(fmt::format("field '{}' must be a string, not {}", name, json_kind_name(*v)));
    }
    return std::optional<std::string>{std::string(v->as_string())};
}

Result<std::optional<Millis>> field_datetime(const json::object& body, std::string_view name) {
    auto text = field_string(body, name);
    if (!text) return text.error();
    if (!*text) return std::optional<Millis>{};
    auto t = dag::parse_datetime(**text);
    if (!t) {
        return bad(
            fmt::format("field '{}' must be an ISO 8601 datetime: {}", name, t.error().message));
    }
    return std::optional<Millis>{*t};
}

Result<std::optional<std::vector<std::string>>> field_strings(const json::object& body,
                                                              std::string_view name) {
    const json::value* v = body.if_contains(name);
    if (v == nullptr || v->is_null()) return std::optional<std::vector<std::string>>{};
    if (!v->is_array()) {
        return bad(
            fmt::format("field '{}' must be an array of strings, not {}", name, json_kind_name(*v)));
    }
    std::vector<std::string> out;
    for (const auto& item : v->as_array()) {
        if (!item.is_string()) {
            return bad(fmt::format("field '{}' must be an array of strings; it holds {}", name,
                                   json_kind_name(item)));
        }
        out.emplace_back(item.as_string());
    }
    return std::optional<std::vector<std::string>>{std::move(out)};
}

Result<std::optional<long long>> field_int(const json::object& body, std::string_view name,
                                           long long min, long long max) {
    const json::value* v = body.if_contains(name);
    if (v == nullptr || v->is_null()) return std::optional<long long>{};
    std::optional<long long> n;
    if (v->is_int64()) n = v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(max)) {
        n = static_cast<long long>(v->as_uint64());
    }
    if (!n || *n < min || *n > max) {
        return bad(fmt::format("field '{}' must be an integer from {} to {}", name, min, max));
    }
    return n;
}

Result<void> field_datetimes(
    const json::object& body,
    std::initializer_list<std::pair<std::string_view, std::optional<Millis>*>> fields) {
    for (const auto& [name, target] : fields) {
        auto t = field_datetime(body, name);
        if (!t) return t.error();
        *target = *t;
    }
    return {};
}

Result<Paging> body_paging(const json::object& body) {
    auto offset = field_int(body, "page_offset", 0, 1'000'000'000);
    if (!offset) return offset.error();
    auto limit = field_int(body, "page_limit", 0, 1'000'000);
    if (!limit) return limit.error();
    Paging paging;
    paging.offset = static_cast<int>(offset->value_or(0));
    paging.limit = static_cast<int>(std::min<long long>(limit->value_or(kMaxPageLimit), kMaxPageLimit));
    return paging;
}

}  // namespace orquestra::api
