// Eureka JSON: reading with Boost.JSON (a DOM on a monotonic arena, so a 10 MB registry parses
// with few allocations), writing by hand straight into the caller's string.

#include "registry/codec.hpp"
#include "core/json_kind.hpp"

#include "core/strings.hpp"
#include "registry/codec_detail.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <new>

namespace orquestra::registry {

namespace {

namespace json = boost::json;
using namespace std::string_view_literals;
using namespace codec_detail;

// ---------------------------------------------------------------------------------------------
// Reading


Error wrong_type(std::string_view field, std::string_view expected, const json::value& v) {
    std::string reason = "expected ";
    reason.append(expected);
    reason.append(", got "sv);
    reason.append(json_kind_name(v));
    return invalid(field, reason);
}

// Scalars read as text, as Jackson's asText() does; objects and arrays are errors.
Result<void> read_string(const json::value& v, std::string_view field, std::string& out) {
    switch (v.kind()) {
        case json::kind::string:
            out.assign(v.get_string().data(), v.get_string().size());
            break;
        case json::kind::bool_:
            out.assign(v.get_bool() ? "true"sv : "false"sv);
            break;
        case json::kind::int64:
        case json::kind::uint64:
        case json::kind::double_: {
            char buf[32];
            std::to_chars_result res{};
            if (v.is_int64()) {
                res = std::to_chars(buf, buf + sizeof buf, v.get_int64());
            } else if (v.is_uint64()) {
                res = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
            } else {
                res = std::to_chars(buf, buf + sizeof buf, v.get_double());
            }
            out.assign(buf, res.ptr);
            break;
        }
        case json::kind::null:
            break;
        default:
            return wrong_type(field, "a string", v);
    }
    return {};
}

// Integers from numbers (integral doubles included) or decimal strings, range-checked.
Result<void> read_int64(const json::value& v, std::string_view field, long long min, long long max,
                        long long& out, bool& present) {
    present = false;
    long long value = 0;
    switch (v.kind()) {
        case json::kind::int64:
            value = v.get_int64();
            break;
        case json::kind::uint64:
            if (v.get_uint64() > static_cast<std::uint64_t>(max)) {
                return invalid(field, "number out of range");
            }
            value = static_cast<long long>(v.get_uint64());
            break;
        case json::kind::double_: {
            const double d = v.get_double();
            // 2^63 is exactly representable; anything at or beyond it does not fit.
            constexpr double kLimit = 9223372036854775808.0;
            if (!std::isfinite(d) || d != std::trunc(d) || d >= kLimit || d < -kLimit) {
                return invalid(field, "expected an integer, got a fractional or huge number");
            }
            value = static_cast<long long>(d);
            break;
        }
        case json::kind::string: {
            std::string_view text(v.get_string().data(), v.get_string().size());
            if (trim(text).empty()) return {};
            auto parsed = parse_int(text);
            if (!parsed) return invalid_value(field, "an integer", text);
            value = *parsed;
            break;
        }
        case json::kind::null:
            return {};
        default:
            return wrong_type(field, "an integer", v);
    }
    if (value < min || value > max) return invalid(field, "number out of range");
    out = value;
    present = true;
    return {};
}

Result<void> read_int(const json::value& v, std::string_view field, int& out) {
    long long value = 0;
    bool present = false;
    auto r = read_int64(v, field, std::numeric_limits<int>::min(), std::numeric_limits<int>::max(),
                        value, present);
    if (r && present) out = static_cast<int>(value);
    return r;
}

Result<void> read_millis(const json::value& v, std::string_view field, Millis& out) {
    long long value = 0;
    bool present = false;
    auto r = read_int64(v, field, std::numeric_limits<Millis>::min(),
                        std::numeric_limits<Millis>::max(), value, present);
    if (r && present) out = static_cast<Millis>(value);
    return r;
}

Result<void> read_port_number(const json::value& v, std::string_view field, int& out) {
    long long value = 0;
    bool present = false;
    auto r = read_int64(v, field, std::numeric_limits<long long>::min(),
                        std::numeric_limits<long long>::max(), value, present);
    if (!r || !present) return r;
    return port_in_range(value, field, out);
}

Result<void> read_bool(const json::value& v, std::string_view field, bool& out) {
    switch (v.kind()) {
        case json::kind::bool_:
            out = v.get_bool();
            return {};
        case json::kind::string:
            return bool_from_text(std::string_view(v.get_string().data(), v.get_string().size()),
                                  field, out);
        case json::kind::null:
            return {};
        default:
            return wrong_type(field, "true or false", v);
    }
}

// {"$":8080,"@enabled":"true"} (number or string, bool or string) or, old style, a bare port.
Result<void> read_port(const json::value& v, std::string_view field, PortInfo& out) {
    if (!v.is_object()) {
        if (v.is_array() || v.is_bool()) return wrong_type(field, "a port object or number", v);
        return read_port_number(v, field, out.port);
    }
    for (const auto& kv : v.get_object()) {
        if (kv.key() == "$") {
            std::string sub(field);
            sub.append(".$"sv);
            if (auto r = read_port_number(kv.value(), sub, out.port); !r) return r;
        } else if (kv.key() == "@enabled") {
            std::string sub(field);
            sub.append(".@enabled"sv);
            if (auto r = read_bool(kv.value(), sub, out.enabled); !r) return r;
        }
    }
    return {};
}

// Map<String,String>; the "@class" EmptyMap marker and null values are dropped.
Result<void> read_metadata(const json::value& v, std::string_view field, Metadata& out) {
    out.clear();
    if (v.is_null()) return {};
    if (!v.is_object()) return wrong_type(field, "an object", v);
    const json::object& obj = v.get_object();
    out.reserve(obj.size());
    for (const auto& kv : obj) {
        if (kv.key() == "@class" || kv.value().is_null()) continue;
        std::string value;
        if (auto r = read_string(kv.value(), "", value); !r) {
            std::string sub(field);
            sub.push_back('.');
            sub.append(kv.key().data(), kv.key().size());
            return wrong_type(sub, "a string", kv.value());
        }
        // Boost.JSON keeps one entry per key, so no de-duplication is needed here.
        out.emplace_back(std::string(kv.key().data(), kv.key().size()), std::move(value));
    }
    return {};
}

Result<void> read_data_center(const json::value& v, InstanceInfo& info) {
    if (!v.is_object()) return wrong_type("dataCenterInfo", "an object", v);
    for (const auto& kv : v.get_object()) {
        const std::string_view key = kv.key();
        Result<void> r;
        if (key == "@class") {
            r = read_string(kv.value(), "dataCenterInfo.@class", info.data_center_class);
        } else if (key == "name") {
            r = read_string(kv.value(), "dataCenterInfo.name", info.data_center_name);
        } else if (key == "metadata") {
            r = read_metadata(kv.value(), "dataCenterInfo.metadata", info.data_center_metadata);
        }
        if (!r) return r;
    }
    return {};
}

Result<void> read_lease(const json::value& v, LeaseInfo& lease) {
    if (!v.is_object()) return wrong_type("leaseInfo", "an object", v);
    for (const auto& kv : v.get_object()) {
        const std::string_view key = kv.key();
        const json::value& value = kv.value();
        Result<void> r;
        if (key == "renewalIntervalInSecs") {
            r = read_int(value, "leaseInfo.renewalIntervalInSecs", lease.renewal_interval_secs);
        } else if (key == "durationInSecs") {
            r = read_int(value, "leaseInfo.durationInSecs", lease.duration_secs);
        } else if (key == "registrationTimestamp") {
            r = read_millis(value, "leaseInfo.registrationTimestamp", lease.registration_timestamp);
        } else if (key == "lastRenewalTimestamp" || key == "renewalTimestamp") {
            r = read_millis(value, "leaseInfo.lastRenewalTimestamp", lease.last_renewal_timestamp);
        } else if (key == "evictionTimestamp") {
            r = read_millis(value, "leaseInfo.evictionTimestamp", lease.eviction_timestamp);
        } else if (key == "serviceUpTimestamp") {
            r = read_millis(value, "leaseInfo.serviceUpTimestamp", lease.service_up_timestamp);
        }
        if (!r) return r;
    }
    return {};
}

Result<void> read_status(const json::value& v, std::string_view field, InstanceStatus& out) {
    std::string text;
    if (auto r = read_string(v, field, text); !r) return r;
    out = parse_status(trim(text));
    return {};
}

Result<InstanceInfo> read_instance(const json::value& v) {
    if (!v.is_object()) return wrong_type("instance", "an object", v);
    InstanceInfo info = blank_instance();
    for (const auto& kv : v.get_object()) {
        const std::string_view key = kv.key();
        const json::value& value = kv.value();
        if (value.is_null()) continue;  // as Eureka: null means absent
        Result<void> r;
        bool done = false;
        for (const StringField& f : kStringFields) {
            if (key == f.name) {
                r = read_string(value, f.name, info.*f.member);
                done = true;
                break;
            }
        }
        if (done) {
            // handled above
        } else if (key == "app") {
            r = read_string(value, "app", info.app);
            if (r) info.app = to_upper(info.app);
        } else if (key == "status") {
            r = read_status(value, "status", info.status);
        } else if (key == "overriddenStatus" || key == "overriddenstatus") {
            r = read_status(value, key, info.overridden_status);
        } else if (key == "port") {
            r = read_port(value, "port", info.port);
        } else if (key == "securePort") {
            r = read_port(value, "securePort", info.secure_port);
        } else if (key == "countryId") {
            r = read_int(value, "countryId", info.country_id);
        } else if (key == "dataCenterInfo") {
            r = read_data_center(value, info);
        } else if (key == "leaseInfo") {
            r = read_lease(value, info.lease);
        } else if (key == "metadata") {
            r = read_metadata(value, "metadata", info.metadata);
        } else if (key == "isCoordinatingDiscoveryServer") {
            r = read_bool(value, "isCoordinatingDiscoveryServer",
                          info.is_coordinating_discovery_server);
        } else if (key == "lastUpdatedTimestamp") {
            r = read_millis(value, "lastUpdatedTimestamp", info.last_updated_timestamp);
        } else if (key == "lastDirtyTimestamp") {
            r = read_millis(value, "lastDirtyTimestamp", info.last_dirty_timestamp);
        } else if (key == "actionType") {
            std::string text;
            r = read_string(value, "actionType", text);
            if (r) action_from_text(text, info.action_type);
        }
        if (!r) return r.error();
    }
    return info;
}

// Eureka writes arrays, but older servers (and Jackson's single-value unwrapping) send a lone
// object where there is one element: accept both, as Eureka's readers do.
template <class Fn>
Result<void> for_each_element(const json::value& v, std::string_view field, Fn&& fn) {
    if (v.is_null()) return {};
    if (v.is_object()) return fn(v, std::string(field) + ".");
    if (!v.is_array()) return wrong_type(field, "an array", v);
    std::size_t index = 0;
    for (const json::value& element : v.get_array()) {
        std::string prefix(field);
        prefix.push_back('[');
        append_number(prefix, static_cast<long long>(index++));
        prefix.append("]."sv);
        if (auto r = fn(element, prefix); !r) return r;
    }
    return {};
}

Result<Application> read_application(const json::value& v) {
    if (!v.is_object()) return wrong_type("application", "an object", v);
    Application app;
    for (const auto& kv : v.get_object()) {
        if (kv.key() == "name") {
            if (auto r = read_string(kv.value(), "name", app.name); !r) return r.error();
        } else if (kv.key() == "instance") {
            if (kv.value().is_array()) app.instances.reserve(kv.value().get_array().size());
            auto r = for_each_element(
                kv.value(), "instance",
                [&](const json::value& element, const std::string& prefix) -> Result<void> {
                    auto info = read_instance(element);
                    if (!info) return prefixed(info.error(), prefix);
                    app.instances.push_back(std::move(*info));
                    return {};
                });
            if (!r) return r.error();
        }
    }
    return app;
}

Result<Applications> read_applications(const json::value& v) {
    if (!v.is_object()) return wrong_type("applications", "an object", v);
    Applications apps;
    for (const auto& kv : v.get_object()) {
        const std::string_view key = kv.key();
        Result<void> r;
        if (key == "application") {
            if (kv.value().is_array()) apps.applications.reserve(kv.value().get_array().size());
            r = for_each_element(
                kv.value(), "application",
                [&](const json::value& element, const std::string& prefix) -> Result<void> {
                    auto app = read_application(element);
                    if (!app) return prefixed(app.error(), prefix);
                    apps.applications.push_back(std::move(*app));
                    return {};
                });
        } else if (key.starts_with("version")) {
            // Spring's reader takes any "version…" key as the version and "apps…" as the hash.
            r = read_string(kv.value(), "versions__delta", apps.versions_delta);
        } else if (key.starts_with("apps")) {
            r = read_string(kv.value(), "apps__hashcode", apps.apps_hashcode);
        }
        if (!r) return r.error();
    }
    return apps;
}

// Parses `body` on `arena`; Boost.JSON bounds the nesting depth (32) and validates UTF-8.
Result<json::value> parse_document(std::string_view body, json::monotonic_resource& arena) {
    if (body.starts_with("\xEF\xBB\xBF"sv)) body.remove_prefix(3);  // UTF-8 byte order mark
    boost::system::error_code ec;
    json::value root = json::parse(json::string_view(body.data(), body.size()), ec, &arena);
    if (ec) return Error{ErrorCode::kInvalidArgument, "malformed JSON: " + ec.message()};
    if (!root.is_object()) {
        return Error{ErrorCode::kInvalidArgument,
                     std::string("expected a JSON object, got ") + std::string(json_kind_name(root))};
    }
    return root;
}

// `{"<wrapper>":{...}}` or the bare object.
const json::value& unwrap(const json::value& root, std::string_view wrapper) {
    const json::object& obj = root.get_object();
    if (const json::value* inner =
            obj.if_contains(json::string_view(wrapper.data(), wrapper.size()));
        inner != nullptr) {
        return *inner;
    }
    return root;
}

// Exceptions (only std::bad_alloc and friends can come out of Boost.JSON here) stop at the
// module edge.
template <class T, class Fn>
Result<T> guarded(Fn&& fn) {
    try {
        return fn();
    } catch (const std::bad_alloc&) {
        return Error{ErrorCode::kTooLarge, "JSON document too large to parse"};
    } catch (const std::exception& e) {
        return Error{ErrorCode::kInvalidArgument, std::string("unreadable JSON: ") + e.what()};
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

void key(std::string& out, std::string_view quoted_key_colon) { out.append(quoted_key_colon); }

void string_field(std::string& out, std::string_view quoted_key_colon, std::string_view value) {
    out.append(quoted_key_colon);
    append_json_string(out, value);
}

void write_object(std::string& out, const Metadata& map) {
    out.push_back('{');
    bool first = true;
    for (const auto& [k, v] : map) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, k);
        out.push_back(':');
        append_json_string(out, v);
    }
    out.push_back('}');
}

void write_port(std::string& out, std::string_view quoted_key_colon, const PortInfo& port) {
    out.append(quoted_key_colon);
    out.append("{\"$\":"sv);
    append_number(out, port.port);
    out.append(port.enabled ? ",\"@enabled\":\"true\"}"sv : ",\"@enabled\":\"false\"}"sv);
}

void write_instance_object(const InstanceInfo& info, std::string& out) {
    out.push_back('{');
    if (!info.instance_id.empty()) {
        string_field(out, "\"instanceId\":"sv, info.instance_id);
        out.push_back(',');
    }
    string_field(out, "\"hostName\":"sv, info.host_name);
    string_field(out, ",\"app\":"sv, info.app);
    string_field(out, ",\"ipAddr\":"sv, info.ip_addr);
    if (sid_is_written(info.sid)) string_field(out, ",\"sid\":"sv, info.sid);
    string_field(out, ",\"status\":"sv, to_string(info.status));
    string_field(out, ",\"overriddenStatus\":"sv, to_string(info.overridden_status));
    write_port(out, ",\"port\":"sv, info.port);
    write_port(out, ",\"securePort\":"sv, info.secure_port);
    key(out, ",\"countryId\":"sv);
    append_number(out, info.country_id);

    const bool amazon = is_amazon(info);
    string_field(out, ",\"dataCenterInfo\":{\"@class\":"sv,
                 amazon ? kAmazonDataCenterClass : kDefaultDataCenterClass);
    string_field(out, ",\"name\":"sv, info.data_center_name);
    if (amazon) {
        key(out, ",\"metadata\":"sv);
        write_object(out, info.data_center_metadata);
    }
    out.push_back('}');

    const LeaseInfo& lease = info.lease;
    key(out, ",\"leaseInfo\":{\"renewalIntervalInSecs\":"sv);
    append_number(out, lease.renewal_interval_secs);
    key(out, ",\"durationInSecs\":"sv);
    append_number(out, lease.duration_secs);
    key(out, ",\"registrationTimestamp\":"sv);
    append_number(out, lease.registration_timestamp);
    key(out, ",\"lastRenewalTimestamp\":"sv);
    append_number(out, lease.last_renewal_timestamp);
    key(out, ",\"evictionTimestamp\":"sv);
    append_number(out, lease.eviction_timestamp);
    key(out, ",\"serviceUpTimestamp\":"sv);
    append_number(out, lease.service_up_timestamp);
    out.push_back('}');

    key(out, ",\"metadata\":"sv);
    if (info.metadata.empty()) {
        out.append("{\"@class\":\"java.util.Collections$EmptyMap\"}"sv);
    } else {
        write_object(out, info.metadata);
    }

    const auto optional_field = [&](std::string_view quoted_key_colon, const std::string& value) {
        if (!value.empty()) string_field(out, quoted_key_colon, value);
    };
    optional_field(",\"appGroupName\":"sv, info.app_group_name);
    optional_field(",\"homePageUrl\":"sv, info.home_page_url);
    optional_field(",\"statusPageUrl\":"sv, info.status_page_url);
    optional_field(",\"healthCheckUrl\":"sv, info.health_check_url);
    optional_field(",\"secureHealthCheckUrl\":"sv, info.secure_health_check_url);
    optional_field(",\"vipAddress\":"sv, info.vip_address);
    optional_field(",\"secureVipAddress\":"sv, info.secure_vip_address);

    out.append(info.is_coordinating_discovery_server
                   ? ",\"isCoordinatingDiscoveryServer\":\"true\""sv
                   : ",\"isCoordinatingDiscoveryServer\":\"false\""sv);
    key(out, ",\"lastUpdatedTimestamp\":\""sv);
    append_number(out, info.last_updated_timestamp);
    key(out, "\",\"lastDirtyTimestamp\":\""sv);
    append_number(out, info.last_dirty_timestamp);
    out.push_back('"');
    string_field(out, ",\"actionType\":"sv, to_string(info.action_type));
    optional_field(",\"asgName\":"sv, info.asg_name);
    out.push_back('}');
}

void write_application_object(const Application& app, std::string& out) {
    string_field(out, "{\"name\":"sv, app.name);
    out.append(",\"instance\":["sv);
    bool first = true;
    for (const InstanceInfo& info : app.instances) {
        if (!first) out.push_back(',');
        first = false;
        write_instance_object(info, out);
    }
    out.append("]}"sv);
}

}  // namespace

Result<InstanceInfo> parse_instance_json(std::string_view body) {
    return guarded<InstanceInfo>([&]() -> Result<InstanceInfo> {
        json::monotonic_resource arena;
        auto root = parse_document(body, arena);
        if (!root) return root.error();
        return read_instance(unwrap(*root, "instance"));
    });
}

Result<Applications> parse_applications_json(std::string_view body) {
    return guarded<Applications>([&]() -> Result<Applications> {
        json::monotonic_resource arena;
        auto root = parse_document(body, arena);
        if (!root) return root.error();
        return read_applications(unwrap(*root, "applications"));
    });
}

Result<Application> parse_application_json(std::string_view body) {
    return guarded<Application>([&]() -> Result<Application> {
        json::monotonic_resource arena;
        auto root = parse_document(body, arena);
        if (!root) return root.error();
        return read_application(unwrap(*root, "application"));
    });
}

void write_instance_json(const InstanceInfo& info, std::string& out) {
    out.append("{\"instance\":"sv);
    write_instance_object(info, out);
    out.push_back('}');
}

void write_application_json(const Application& app, std::string& out) {
    out.append("{\"application\":"sv);
    write_application_object(app, out);
    out.push_back('}');
}

void write_applications_json(const Applications& apps, std::string& out) {
    string_field(out, "{\"applications\":{\"versions__delta\":"sv, apps.versions_delta);
    string_field(out, ",\"apps__hashcode\":"sv, apps.apps_hashcode);
    out.append(",\"application\":["sv);
    bool first = true;
    for (const Application& app : apps.applications) {
        if (!first) out.push_back(',');
        first = false;
        write_application_object(app, out);
    }
    out.append("]}}"sv);
}

}  // namespace orquestra::registry

namespace orquestra::registry {

void write_application_object_json(const Application& app, std::string& out) {
    write_application_object(app, out);
}

}  // namespace orquestra::registry
