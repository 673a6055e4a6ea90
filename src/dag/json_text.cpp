#include "dag/json_text.hpp"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <cstdint>

namespace orquestra::dag {

namespace json = boost::json;

namespace {

void write_json(const json::value& v, std::string& out) {
    switch (v.kind()) {
        case json::kind::null:
            out += "null";
            return;
        case json::kind::bool_:
            out += v.get_bool() ? "true" : "false";
            return;
        case json::kind::int64:
            out += fmt::format("{}", v.get_int64());
            return;
        case json::kind::uint64:
            out += fmt::format("{}", v.get_uint64());
            return;
        case json::kind::double_:
            out += fmt::format("{}", v.get_double());
            return;
        case json::kind::string:
            out += json::serialize(v.get_string());
            return;
        case json::kind::array: {
            out.push_back('[');
            bool first = true;
            for (const auto& item : v.get_array()) {
                if (!first) out.push_back(',');
                first = false;
                write_json(item, out);
            }
            out.push_back(']');
            return;
        }
        case json::kind::object: {
            out.push_back('{');
            bool first = true;
            for (const auto& field : v.get_object()) {
                if (!first) out.push_back(',');
                first = false;
                out += json::serialize(json::string_view(field.key()));
                out.push_back(':');
                write_json(field.value(), out);
            }
            out.push_back('}');
            return;
        }
    }
}

}  // namespace

std::string to_json_text(const json::value& v) {
    std::string out;
    write_json(v, out);
    return out;
}

std::string to_text(const json::value& v) {
    if (v.is_string()) return std::string(v.get_string());
    return to_json_text(v);
}

bool truthy(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null:
            return false;
        case json::kind::bool_:
            return v.get_bool();
        case json::kind::int64:
            return v.get_int64() != 0;
        case json::kind::uint64:
            return v.get_uint64() != 0;
        case json::kind::double_:
            return v.get_double() != 0.0;
        case json::kind::string:
            return !v.get_string().empty();
        case json::kind::array:
            return !v.get_array().empty();
        case json::kind::object:
            return !v.get_object().empty();
    }
    return false;
}

int compare_numbers(const json::value& a, const json::value& b) {
    auto three_way = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
    if (a.is_double() || b.is_double()) {
        return three_way(a.to_number<double>(), b.to_number<double>());
    }
    if (a.is_int64() && b.is_int64()) return three_way(a.get_int64(), b.get_int64());
    if (a.is_uint64() && b.is_uint64()) return three_way(a.get_uint64(), b.get_uint64());
    if (a.is_int64()) {  // b is uint64
        if (a.get_int64() < 0) return -1;
        return three_way(static_cast<std::uint64_t>(a.get_int64()), b.get_uint64());
    }
    if (b.get_int64() < 0) return 1;  // a is uint64
    return three_way(a.get_uint64(), static_cast<std::uint64_t>(b.get_int64()));
}

bool json_equal(const json::value& a, const json::value& b) {
    if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case json::kind::null:
            return true;
        case json::kind::bool_:
            return a.get_bool() == b.get_bool();
        case json::kind::string:
            return a.get_string() == b.get_string();
        case json::kind::array: {
            const auto& x = a.get_array();
            const auto& y = b.get_array();
            if (x.size() != y.size()) return false;
            for (std::size_t i = 0; i < x.size(); ++i) {
                if (!json_equal(x[i], y[i])) return false;
            }
            return true;
        }
        case json::kind::object: {
            const auto& x = a.get_object();
            const auto& y = b.get_object();
            if (x.size() != y.size()) return false;
            for (const auto& field : x) {
                const json::value* other = y.if_contains(field.key());
                if (other == nullptr || !json_equal(field.value(), *other)) return false;
            }
            return true;
        }
        default:
            return false;  // numbers were handled above
    }
}

std::string_view kind_name(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null:
            return "null";
        case json::kind::bool_:
            return "boolean";
        case json::kind::int64:
        case json::kind::uint64:
            return "integer";
        case json::kind::double_:
            return "number";
        case json::kind::string:
            return "string";
        case json::kind::array:
            return "list";
        case json::kind::object:
            return "object";
    }
    return "unknown";
}

}  // namespace orquestra::dag
