// Eureka XML (XStream's shapes): reading with pugixml, writing by hand straight into the
// caller's string. pugixml parses without recursion, does not resolve external entities and
// knows only the predefined ones, so hostile documents cost memory proportional to their size
// and nothing more; the readers below only descend into the elements they know.

#include "registry/codec.hpp"

#include "core/strings.hpp"
#include "registry/codec_detail.hpp"

#include <pugixml.hpp>

#include <exception>
#include <new>

namespace orquestra::registry {

namespace {

using namespace std::string_view_literals;
using namespace codec_detail;

// ---------------------------------------------------------------------------------------------
// Reading

// Element and attribute names without a namespace prefix.
std::string_view local_name(const char* name) {
    std::string_view n(name);
    const auto colon = n.rfind(':');
    return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

bool is_element(const pugi::xml_node& n) { return n.type() == pugi::node_element; }

// The text of a leaf element. Several text nodes (split by a comment or CDATA) are joined in
// `scratch`; a child element where text belongs is an error.
Result<std::string_view> text_of(const pugi::xml_node& element, std::string_view field,
                                 std::string& scratch) {
    std::string_view single;
    int pieces = 0;
    for (pugi::xml_node child = element.first_child(); child; child = child.next_sibling()) {
        const auto type = child.type();
        if (type == pugi::node_element) return invalid(field, "expected text, got an element");
        if (type != pugi::node_pcdata && type != pugi::node_cdata) continue;
        if (pieces == 0) {
            single = child.value();
        } else {
            if (pieces == 1) scratch.assign(single);
            scratch.append(child.value());
        }
        ++pieces;
    }
    if (pieces > 1) return std::string_view(scratch);
    return single;
}

Result<void> read_string(const pugi::xml_node& element, std::string_view field, std::string& out) {
    std::string scratch;
    auto text = text_of(element, field, scratch);
    if (!text) return text.error();
    out.assign(*text);
    return {};
}

template <class Int>
Result<void> read_integer(const pugi::xml_node& element, std::string_view field, Int& out) {
    std::string scratch;
    auto text = text_of(element, field, scratch);
    if (!text) return text.error();
    return integer_from_text(*text, field, out);
}

Result<void> read_bool(const pugi::xml_node& element, std::string_view field, bool& out) {
    std::string scratch;
    auto text = text_of(element, field, scratch);
    if (!text) return text.error();
    return bool_from_text(*text, field, out);
}

Result<void> read_status(const pugi::xml_node& element, std::string_view field,
                         InstanceStatus& out) {
    std::string scratch;
    auto text = text_of(element, field, scratch);
    if (!text) return text.error();
    out = parse_status(trim(*text));
    return {};
}

// <port enabled="true">8080</port>; the attribute is optional (old style).
Result<void> read_port(const pugi::xml_node& element, std::string_view field, PortInfo& out) {
    std::string scratch;
    auto text = text_of(element, field, scratch);
    if (!text) return text.error();
    if (auto r = port_from_text(*text, field, out.port); !r) return r;
    for (pugi::xml_attribute a = element.first_attribute(); a; a = a.next_attribute()) {
        if (local_name(a.name()) == "enabled") {
            std::string sub(field);
            sub.append("@enabled"sv);
            if (auto r = bool_from_text(a.value(), sub, out.enabled); !r) return r;
        }
    }
    return {};
}

// <metadata><key>value</key>...</metadata>; the class="…EmptyMap" attribute is ignored.
Result<void> read_metadata(const pugi::xml_node& element, std::string_view field, Metadata& out) {
    out.clear();
    std::string scratch;
    for (pugi::xml_node child = element.first_child(); child; child = child.next_sibling()) {
        if (!is_element(child)) continue;
        std::string key = decode_xml_key(local_name(child.name()));
        auto text = text_of(child, field, scratch);
        if (!text) {
            std::string sub(field);
            sub.push_back('.');
            sub.append(key);
            return invalid(sub, "expected text, got an element");
        }
        bool replaced = false;
        for (auto& entry : out) {
            if (entry.first == key) {
                entry.second.assign(*text);
                replaced = true;
                break;
            }
        }
        if (!replaced) out.emplace_back(std::move(key), std::string(*text));
    }
    return {};
}

Result<void> read_data_center(const pugi::xml_node& element, InstanceInfo& info) {
    for (pugi::xml_attribute a = element.first_attribute(); a; a = a.next_attribute()) {
        if (local_name(a.name()) == "class") info.data_center_class = a.value();
    }
    for (pugi::xml_node child = element.first_child(); child; child = child.next_sibling()) {
        if (!is_element(child)) continue;
        const std::string_view name = local_name(child.name());
        Result<void> r;
        if (name == "name") {
            r = read_string(child, "dataCenterInfo.name", info.data_center_name);
        } else if (name == "metadata") {
            r = read_metadata(child, "dataCenterInfo.metadata", info.data_center_metadata);
        }
        if (!r) return r;
    }
    return {};
}

Result<void> read_lease(const pugi::xml_node& element, LeaseInfo& lease) {
    for (pugi::xml_node child = element.first_child(); child; child = child.next_sibling()) {
        if (!is_element(child)) continue;
        const std::string_view name = local_name(child.name());
        Result<void> r;
        if (name == "renewalIntervalInSecs") {
            r = read_integer(child, "leaseInfo.renewalIntervalInSecs", lease.renewal_interval_secs);
        } else if (name == "durationInSecs") {
            r = read_integer(child, "leaseInfo.durationInSecs", lease.duration_secs);
        } else if (name == "registrationTimestamp") {
            r = read_integer(child, "leaseInfo.registrationTimestamp",
                             lease.registration_timestamp);
        } else if (name == "lastRenewalTimestamp" || name == "renewalTimestamp") {
            r = read_integer(child, "leaseInfo.lastRenewalTimestamp", lease.last_renewal_timestamp);
        } else if (name == "evictionTimestamp") {
            r = read_integer(child, "leaseInfo.evictionTimestamp", lease.eviction_timestamp);
        } else if (name == "serviceUpTimestamp") {
            r = read_integer(child, "leaseInfo.serviceUpTimestamp", lease.service_up_timestamp);
        }
        if (!r) return r;
    }
    return {};
}

Result<InstanceInfo> read_instance(const pugi::xml_node& element) {
    InstanceInfo info = blank_instance();
    for (pugi::xml_node child = element.first_child(); child; child = child.next_sibling()) {
        if (!is_element(child)) continue;
        const std::string_view name = local_name(child.name());
        Result<void> r;
        bool done = false;
        for (const StringField& f : kStringFields) {
            if (name == f.name) {
                r = read_string(child, f.name, info.*f.member);
                done = true;
                break;
            }
        }
        if (done) {
            // handled above
        } else if (name == "app") {
            r = read_string(child, "app", info.app);
            if (r) info.app = to_upper(info.app);
        } else if (name == "status") {
            r = read_status(child, "status", info.status);
        } else if (name == "overriddenstatus" || name == "overriddenStatus") {
            r = read_status(child, name, info.overridden_status);
        } else if (name == "port") {
            r = read_port(child, "port", info.port);
        } else if (name == "securePort") {
            r = read_port(child, "securePort", info.secure_port);
        } else if (name == "countryId") {
            r = read_integer(child, "countryId", info.country_id);
        } else if (name == "dataCenterInfo") {
            r = read_data_center(child, info);
        } else if (name == "leaseInfo") {
            r = read_lease(child, info.lease);
        } else if (name == "metadata") {
            r = read_metadata(child, "metadata", info.metadata);
        } else if (name == "isCoordinatingDiscoveryServer") {
            r = read_bool(child, "isCoordinatingDiscoveryServer",
                          info.is_coordinating_discovery_server);
        } else if (name == "lastUpdatedTimestamp") {
            r = read_integer(child, "lastUpdatedTimestamp", info.last_updated_timestamp);
        } else if (name == "lastDirtyTimestamp") {
            r = read_integer(child, "lastDirtyTimestamp", info.last_dirty_timestamp);
        } else if (name == "actionType") {
            std::string text;
            r = read_string(child, "actionType", text);
            if (r) action_from_text(text, info.action_type);
        }
        if (!r) return r.error();
    }
    return info;
}

std::string index_prefix(std::string_view field, std::size_t index) {
    std::string prefix(field);
    prefix.push_back('[');
    append_number(prefix, static_cast<long long>(index));
    prefix.append("]."sv);
    return prefix;
}

Result<Application> read_application(const pugi::xml_node& element) {
    Application app;
    std::size_t index = 0;
    for (pugi::xml_node child = element.first_child(); child; child = child.next_sibling()) {
        if (!is_element(child)) continue;
        const std::string_view name = local_name(child.name());
        if (name == "name") {
            if (auto r = read_string(child, "name", app.name); !r) return r.error();
        } else if (name == "instance") {
            auto info = read_instance(child);
            if (!info) return prefixed(info.error(), index_prefix("instance", index));
            app.instances.push_back(std::move(*info));
            ++index;
        }
    }
    return app;
}

Result<Applications> read_applications(const pugi::xml_node& element) {
    Applications apps;
    std::size_t index = 0;
    for (pugi::xml_node child = element.first_child(); child; child = child.next_sibling()) {
        if (!is_element(child)) continue;
        const std::string_view name = local_name(child.name());
        Result<void> r;
        if (name == "application") {
            auto app = read_application(child);
            if (!app) return prefixed(app.error(), index_prefix("application", index));
            apps.applications.push_back(std::move(*app));
            ++index;
        } else if (name == "versions__delta") {
            r = read_string(child, "versions__delta", apps.versions_delta);
        } else if (name == "apps__hashcode") {
            r = read_string(child, "apps__hashcode", apps.apps_hashcode);
        }
        if (!r) return r.error();
    }
    return apps;
}

// Loads `body` into `doc` and returns its root element, which must be <`root_name`>.
Result<pugi::xml_node> load(pugi::xml_document& doc, std::string_view body,
                            std::string_view root_name) {
    // parse_default: no whitespace-only text nodes, entities and character references
    // expanded; the declaration, DOCTYPE, comments and processing instructions are skipped.
    const pugi::xml_parse_result result =
        doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
    if (!result) {
        std::string message = "malformed XML at offset ";
        append_number(message, static_cast<long long>(result.offset));
        message.append(": "sv);
        message.append(result.description());
        return Error{ErrorCode::kInvalidArgument, std::move(message)};
    }
    const pugi::xml_node root = doc.document_element();
    if (!root) return Error{ErrorCode::kInvalidArgument, "XML document has no root element"};
    if (local_name(root.name()) != root_name) {
        std::string message = "expected <";
        message.append(root_name);
        message.append("> as the root element");
        return Error{ErrorCode::kInvalidArgument, std::move(message)};
    }
    return root;
}

template <class T, class Fn>
Result<T> guarded(Fn&& fn) {
    try {
        return fn();
    } catch (const std::bad_alloc&) {
        return Error{ErrorCode::kTooLarge, "XML document too large to parse"};
    } catch (const std::exception& e) {
        return Error{ErrorCode::kInvalidArgument, std::string("unreadable XML: ") + e.what()};
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

// <name>text</name>
void element(std::string& out, std::string_view open, std::string_view text,
             std::string_view close) {
    out.append(open);
    append_xml_text(out, text);
    out.append(close);
}

void number_element(std::string& out, std::string_view open, long long value,
                    std::string_view close) {
    out.append(open);
    append_number(out, value);
    out.append(close);
}

// Returns false when no entry can be written (so the caller writes the empty-map form).
bool write_entries(std::string& out, const Metadata& map) {
    bool any = false;
    for (const auto& [k, v] : map) {
        if (!xml_key_writable(k)) continue;
        any = true;
        out.push_back('<');
        append_xml_key(out, k);
        out.push_back('>');
        append_xml_text(out, v);
        out.append("</"sv);
        append_xml_key(out, k);
        out.push_back('>');
    }
    return any;
}

void write_port(std::string& out, std::string_view name, const PortInfo& port) {
    out.push_back('<');
    out.append(name);
    out.append(port.enabled ? " enabled=\"true\">"sv : " enabled=\"false\">"sv);
    append_number(out, port.port);
    out.append("</"sv);
    out.append(name);
    out.push_back('>');
}

void write_instance_element(const InstanceInfo& info, std::string& out) {
    out.append("<instance>"sv);
    if (!info.instance_id.empty()) {
        element(out, "<instanceId>"sv, info.instance_id, "</instanceId>"sv);
    }
    element(out, "<hostName>"sv, info.host_name, "</hostName>"sv);
    element(out, "<app>"sv, info.app, "</app>"sv);
    element(out, "<ipAddr>"sv, info.ip_addr, "</ipAddr>"sv);
    if (sid_is_written(info.sid)) element(out, "<sid>"sv, info.sid, "</sid>"sv);
    element(out, "<status>"sv, to_string(info.status), "</status>"sv);
    element(out, "<overriddenstatus>"sv, to_string(info.overridden_status),
            "</overriddenstatus>"sv);
    write_port(out, "port"sv, info.port);
    write_port(out, "securePort"sv, info.secure_port);
    number_element(out, "<countryId>"sv, info.country_id, "</countryId>"sv);

    if (is_amazon(info)) {
        out.append("<dataCenterInfo class=\"com.netflix.appinfo.AmazonInfo\">"sv);
        element(out, "<name>"sv, info.data_center_name, "</name>"sv);
        out.append("<metadata>"sv);
        write_entries(out, info.data_center_metadata);
        out.append("</metadata>"sv);
    } else {
        out.append(
            "<dataCenterInfo class=\"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo\">"sv);
        element(out, "<name>"sv, info.data_center_name, "</name>"sv);
    }
    out.append("</dataCenterInfo>"sv);

    const LeaseInfo& lease = info.lease;
    out.append("<leaseInfo>"sv);
    number_element(out, "<renewalIntervalInSecs>"sv, lease.renewal_interval_secs,
                   "</renewalIntervalInSecs>"sv);
    number_element(out, "<durationInSecs>"sv, lease.duration_secs, "</durationInSecs>"sv);
    number_element(out, "<registrationTimestamp>"sv, lease.registration_timestamp,
                   "</registrationTimestamp>"sv);
    number_element(out, "<lastRenewalTimestamp>"sv, lease.last_renewal_timestamp,
                   "</lastRenewalTimestamp>"sv);
    number_element(out, "<evictionTimestamp>"sv, lease.eviction_timestamp,
                   "</evictionTimestamp>"sv);
    number_element(out, "<serviceUpTimestamp>"sv, lease.service_up_timestamp,
                   "</serviceUpTimestamp>"sv);
    out.append("</leaseInfo>"sv);

    // Entries go first; if none can be written, they are rolled back to the empty-map form.
    const std::size_t mark = out.size();
    out.append("<metadata>"sv);
    if (write_entries(out, info.metadata)) {
        out.append("</metadata>"sv);
    } else {
        out.resize(mark);
        out.append("<metadata class=\"java.util.Collections$EmptyMap\"/>"sv);
    }

    const auto optional_element = [&](std::string_view open, const std::string& value,
                                      std::string_view close) {
        if (!value.empty()) element(out, open, value, close);
    };
    optional_element("<appGroupName>"sv, info.app_group_name, "</appGroupName>"sv);
    optional_element("<homePageUrl>"sv, info.home_page_url, "</homePageUrl>"sv);
    optional_element("<statusPageUrl>"sv, info.status_page_url, "</statusPageUrl>"sv);
    optional_element("<healthCheckUrl>"sv, info.health_check_url, "</healthCheckUrl>"sv);
    optional_element("<secureHealthCheckUrl>"sv, info.secure_health_check_url,
                     "</secureHealthCheckUrl>"sv);
    optional_element("<vipAddress>"sv, info.vip_address, "</vipAddress>"sv);
    optional_element("<secureVipAddress>"sv, info.secure_vip_address, "</secureVipAddress>"sv);

    out.append(info.is_coordinating_discovery_server
                   ? "<isCoordinatingDiscoveryServer>true</isCoordinatingDiscoveryServer>"sv
                   : "<isCoordinatingDiscoveryServer>false</isCoordinatingDiscoveryServer>"sv);
    number_element(out, "<lastUpdatedTimestamp>"sv, info.last_updated_timestamp,
                   "</lastUpdatedTimestamp>"sv);
    number_element(out, "<lastDirtyTimestamp>"sv, info.last_dirty_timestamp,
                   "</lastDirtyTimestamp>"sv);
    element(out, "<actionType>"sv, to_string(info.action_type), "</actionType>"sv);
    optional_element("<asgName>"sv, info.asg_name, "</asgName>"sv);
    out.append("</instance>"sv);
}

void write_application_element(const Application& app, std::string& out) {
    element(out, "<application><name>"sv, app.name, "</name>"sv);
    for (const InstanceInfo& info : app.instances) write_instance_element(info, out);
    out.append("</application>"sv);
}

}  // namespace

Result<InstanceInfo> parse_instance_xml(std::string_view body) {
    return guarded<InstanceInfo>([&]() -> Result<InstanceInfo> {
        pugi::xml_document doc;
        auto root = load(doc, body, "instance");
        if (!root) return root.error();
        return read_instance(*root);
    });
}

Result<Applications> parse_applications_xml(std::string_view body) {
    return guarded<Applications>([&]() -> Result<Applications> {
        pugi::xml_document doc;
        auto root = load(doc, body, "applications");
        if (!root) return root.error();
        return read_applications(*root);
    });
}

Result<Application> parse_application_xml(std::string_view body) {
    return guarded<Application>([&]() -> Result<Application> {
        pugi::xml_document doc;
        auto root = load(doc, body, "application");
        if (!root) return root.error();
        return read_application(*root);
    });
}

void write_instance_xml(const InstanceInfo& info, std::string& out) {
    write_instance_element(info, out);
}

void write_application_xml(const Application& app, std::string& out) {
    write_application_element(app, out);
}

void write_applications_xml(const Applications& apps, std::string& out) {
    element(out, "<applications><versions__delta>"sv, apps.versions_delta, "</versions__delta>"sv);
    element(out, "<apps__hashcode>"sv, apps.apps_hashcode, "</apps__hashcode>"sv);
    for (const Application& app : apps.applications) write_application_element(app, out);
    out.append("</applications>"sv);
}

}  // namespace orquestra::registry
