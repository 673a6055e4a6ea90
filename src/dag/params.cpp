#include "dag/params.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

#include "dag/dag.hpp"
#include "dag/json_text.hpp"
#include "dag/time_text.hpp"

namespace orquestra::dag {

namespace json = boost::json;

namespace {

Error invalid(std::string message) {
    return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

// A value as shown in messages: JSON text, cut short when long.
std::string show(const json::value& v) {
    std::string text = to_json_text(v);
    constexpr std::size_t kMax = 80;
    if (text.size() > kMax) {
        text.resize(kMax);
        text += "...";
    }
    return text;
}

constexpr std::array<std::string_view, 6> kAnnotations = {
    "title", "description", "description_md", "examples", "section", "values_display"};

bool is_whole(double d) { return std::isfinite(d) && std::trunc(d) == d; }

std::optional<std::uint64_t> non_negative_integer(const json::value& v) {
    if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
    if (v.is_uint64()) return v.get_uint64();
    if (v.is_double() && v.get_double() >= 0 && v.get_double() < 1e18 && is_whole(v.get_double())) {
        return static_cast<std::uint64_t>(v.get_double());
    }
    return std::nullopt;
}

bool valid_date(std::string_view s) { return s.size() == 10 && parse_datetime(s).has_value(); }

bool valid_date_time(std::string_view s) {
    return s.size() > 10 && (s[10] == 'T' || s[10] == 't' || s[10] == ' ') &&
           parse_datetime(s).has_value();
}

bool valid_time(std::string_view s) {
    return !s.empty() && parse_datetime("1970-01-01T" + std::string(s)).has_value();
}

bool valid_email(std::string_view s) {
    std::size_t at = s.find('@');
    return at != std::string_view::npos && at > 0 && at + 1 < s.size() &&
           s.find('@', at + 1) == std::string_view::npos &&
           s.find_first_of(" \t\r\n") == std::string_view::npos;
}

bool valid_uri(std::string_view s) {
    std::size_t colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 >= s.size()) return false;
    auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!alpha(s[0])) return false;
    for (std::size_t i = 1; i < colon; ++i) {
        char c = s[i];
        if (!alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '.' && c != '-') return false;
    }
    return s.find_first_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

Result<ParamSchema> ParamSchema::compile(const json::object& schema) {
    ParamSchema out;
    auto number_keyword = [&](std::string_view key,
                              std::optional<json::value>& slot) -> Result<void> {
        const json::value* v = schema.if_contains(key);
        if (v == nullptr) return {};
        if (!v->is_number())
            return invalid(fmt::format("'{}' must be a number, got {}", key, show(*v)));
        slot = *v;
        return {};
    };
    auto length_keyword = [&](std::string_view key,
                              std::optional<std::uint64_t>& slot) -> Result<void> {
        const json::value* v = schema.if_contains(key);
        if (v == nullptr) return {};
        slot = non_negative_integer(*v);
        if (!slot)
            return invalid(
                fmt::format("'{}' must be a non-negative integer, got {}", key, show(*v)));
        return {};
    };

    for (const auto& field : schema) {
        std::string_view key = field.key();
        static constexpr std::array<std::string_view, 11> kKeywords = {
            "type",      "minimum",   "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum",
            "minLength", "maxLength", "pattern", "format",           "default"};
        bool known = std::find(kKeywords.begin(), kKeywords.end(), key) != kKeywords.end() ||
                     std::find(kAnnotations.begin(), kAnnotations.end(), key) != kAnnotations.end();
        if (!known) {
            return invalid(fmt::format("unsupported schema keyword '{}'", key));
        }
    }

    if (const json::value* type = schema.if_contains("type")) {
        std::vector<const json::value*> names;
        if (type->is_string()) {
            names.push_back(type);
        } else if (type->is_array() && !type->get_array().empty()) {
            for (const auto& item : type->get_array()) names.push_back(&item);
        } else {
            return invalid(
                fmt::format("'type' must be a type name or a list of them, got {}", show(*type)));
        }
        for (const json::value* name : names) {
            if (!name->is_string()) return invalid(fmt::format("unknown type {}", show(*name)));
            std::string_view n = name->get_string();
            unsigned bit = n == "null"      ? kNull
                           : n == "boolean" ? kBoolean
                           : n == "integer" ? kInteger
                           : n == "number"  ? kNumber
                           : n == "string"  ? kString
                           : n == "array"   ? kArray
                           : n == "object"  ? kObject
                                            : 0u;
            if (bit == 0) {
                return invalid(
                    fmt::format("unknown type '{}' (use string, integer, number, boolean, array, "
                                "object or null)",
                                n));
            }
            out.types_ |= bit;
            if (!out.type_text_.empty()) out.type_text_ += ", ";
            out.type_text_ += fmt::format("'{}'", n);
        }
    }
    for (auto [key, slot] :
         {std::pair{"minimum", &out.minimum_}, std::pair{"maximum", &out.maximum_},
          std::pair{"exclusiveMinimum", &out.exclusive_minimum_},
          std::pair{"exclusiveMaximum", &out.exclusive_maximum_}}) {
        if (auto r = number_keyword(key, *slot); !r) return r.error();
    }
    if (auto r = length_keyword("minLength", out.min_length_); !r) return r.error();
    if (auto r = length_keyword("maxLength", out.max_length_); !r) return r.error();
    if (const json::value* e = schema.if_contains("enum")) {
        if (!e->is_array() || e->get_array().empty()) {
            return invalid(fmt::format("'enum' must be a non-empty list, got {}", show(*e)));
        }
        out.enum_ = e->get_array();
    }
    if (const json::value* p = schema.if_contains("pattern")) {
        if (!p->is_string())
            return invalid(fmt::format("'pattern' must be a string, got {}", show(*p)));
        out.pattern_text_ = std::string(p->get_string());
        // Matching must take time linear in the subject, whatever the pattern: the polynomial
        // (breadth-first) engine, which refuses back-references, tried from the first
        // character only with the search spelled out as a leading [\s\S]* (trying every start
        // made it quadratic). The pattern is compiled alone first, so that the wrapping cannot
        // make a broken pattern valid ("a)(?:b").
        constexpr auto kFlags = std::regex::ECMAScript | std::regex::nosubs |
                                std::regex_constants::__polynomial;
        try {
            std::regex alone(out.pattern_text_, kFlags);
            out.pattern_.emplace("[\\s\\S]*(?:" + out.pattern_text_ + ")", kFlags);
        } catch (const std::regex_error& e) {
            return invalid(fmt::format("pattern '{}' is not a valid regular expression: {}",
                                       out.pattern_text_, e.what()));
        }
    }
    if (const json::value* f = schema.if_contains("format")) {
        std::string_view name =
            f->is_string() ? std::string_view(f->get_string()) : std::string_view();
        out.format_ = name == "date"        ? Format::kDate
                      : name == "date-time" ? Format::kDateTime
                      : name == "time"      ? Format::kTime
                      : name == "email"     ? Format::kEmail
                      : name == "uri"       ? Format::kUri
                      : name == "multiline" ? Format::kMultiline
                                            : Format::kNone;
        if (out.format_ == Format::kNone) {
            return invalid(fmt::format(
                "unknown format {} (use date, date-time, time, email, uri or multiline)",
                show(*f)));
        }
        out.format_text_ = std::string(name);
    }
    return out;
}

Result<void> ParamSchema::validate(const json::value& v) const {
    if (types_ != 0) {
        unsigned bit = 0;
        switch (v.kind()) {
            case json::kind::null:
                bit = kNull;
                break;
            case json::kind::bool_:
                bit = kBoolean;
                break;
            case json::kind::int64:
            case json::kind::uint64:
                bit = kInteger | kNumber;
                break;
            case json::kind::double_:
                bit = kNumber | (is_whole(v.get_double()) ? kInteger : 0u);
                break;
            case json::kind::string:
                bit = kString;
                break;
            case json::kind::array:
                bit = kArray;
                break;
            case json::kind::object:
                bit = kObject;
                break;
        }
        if ((types_ & bit) == 0) {
            return invalid(fmt::format("{} is not of type {}", show(v), type_text_));
        }
    }
    if (enum_ && std::none_of(enum_->begin(), enum_->end(),
                              [&](const json::value& e) { return json_equal(e, v); })) {
        return invalid(fmt::format("{} is not one of {}", show(v), show(*enum_)));
    }
    if (v.is_number()) {
        if (minimum_ && compare_numbers(v, *minimum_) < 0) {
            return invalid(
                fmt::format("{} is less than the minimum of {}", show(v), show(*minimum_)));
        }
        if (maximum_ && compare_numbers(v, *maximum_) > 0) {
            return invalid(
                fmt::format("{} is greater than the maximum of {}", show(v), show(*maximum_)));
        }
        if (exclusive_minimum_ && compare_numbers(v, *exclusive_minimum_) <= 0) {
            return invalid(fmt::format("{} is less than or equal to the exclusive minimum of {}",
                                       show(v), show(*exclusive_minimum_)));
        }
        if (exclusive_maximum_ && compare_numbers(v, *exclusive_maximum_) >= 0) {
            return invalid(fmt::format("{} is greater than or equal to the exclusive maximum of {}",
                                       show(v), show(*exclusive_maximum_)));
        }
    }
    if (v.is_string()) {
        std::string_view s = v.get_string();
        std::size_t length = utf8_length(s);
        if (min_length_ && length < *min_length_) {
            return invalid(
                fmt::format("{} is shorter than the minimum length of {}", show(v), *min_length_));
        }
        if (max_length_ && length > *max_length_) {
            return invalid(
                fmt::format("{} is longer than the maximum length of {}", show(v), *max_length_));
        }
        if (pattern_) {
            if (s.size() > kMaxPatternSubjectLength) {
                return invalid(fmt::format(
                    "{} is longer than {} characters, too long to check against pattern '{}'",
                    show(v), kMaxPatternSubjectLength, pattern_text_));
            }
            bool matched = false;
            try {
                matched = std::regex_search(s.begin(), s.end(), *pattern_,
                                            std::regex_constants::match_continuous);
            } catch (const std::regex_error& e) {
                return invalid(fmt::format("{} could not be checked against pattern '{}': {}",
                                           show(v), pattern_text_, e.what()));
            }
            if (!matched) {
                return invalid(
                    fmt::format("{} does not match pattern '{}'", show(v), pattern_text_));
            }
        }
        bool ok = true;
        switch (format_) {
            case Format::kDate:
                ok = valid_date(s);
                break;
            case Format::kDateTime:
                ok = valid_date_time(s);
                break;
            case Format::kTime:
                ok = valid_time(s);
                break;
            case Format::kEmail:
                ok = valid_email(s);
                break;
            case Format::kUri:
                ok = valid_uri(s);
                break;
            case Format::kNone:
            case Format::kMultiline:
                break;
        }
        if (!ok) return invalid(fmt::format("{} is not a valid '{}'", show(v), format_text_));
    }
    return {};
}

Result<Param> make_param(std::string name, json::object schema,
                         std::optional<json::value> default_value) {
    Result<ParamSchema> compiled = ParamSchema::compile(schema);
    if (!compiled) return invalid(fmt::format("param '{}': {}", name, compiled.error().message));
    if (default_value) {
        if (Result<void> ok = compiled->validate(*default_value); !ok) {
            return invalid(fmt::format("param '{}': default {}", name, ok.error().message));
        }
    }
    Param p;
    p.name = std::move(name);
    p.schema = std::move(schema);
    p.default_value = std::move(default_value);
    p.compiled = std::make_shared<const ParamSchema>(std::move(*compiled));
    return p;
}

Result<void> validate_param(const Param& param, const json::value& value) {
    if (param.compiled == nullptr) return {};
    if (Result<void> ok = param.compiled->validate(value); !ok) {
        return invalid(fmt::format("param '{}': {}", param.name, ok.error().message));
    }
    return {};
}

Result<json::object> resolve_params(std::span<const Param> params, const json::object& conf) {
    json::object out;
    out.reserve(params.size() + conf.size());
    for (const Param& p : params) {
        const json::value* given = conf.if_contains(p.name);
        if (given == nullptr && !p.default_value) {
            return invalid(fmt::format("param '{}' is required", p.name));
        }
        const json::value& value = given != nullptr ? *given : *p.default_value;
        if (Result<void> ok = validate_param(p, value); !ok) return ok.error();
        out[p.name] = value;
    }
    for (const auto& field : conf) {
        if (!out.contains(field.key())) out[field.key()] = field.value();
    }
    return out;
}

Result<json::object> resolve_params(const Dag& dag, const json::object& conf) {
    return resolve_params(std::span<const Param>(dag.params), conf);
}

}  // namespace orquestra::dag
