#pragma once
// Internal to the registry codecs (codec.cpp, codec_json.cpp, codec_xml.cpp): the text
// escaping, name coding and value coercions that the JSON and XML codecs share. Not part of
// the module's interface.

#include "core/clock.hpp"
#include "core/error.hpp"
#include "registry/model.hpp"

#include <string>
#include <string_view>

namespace orquestra::registry::codec_detail {

inline constexpr std::string_view kDefaultDataCenterClass =
    "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo";
inline constexpr std::string_view kAmazonDataCenterClass = "com.netflix.appinfo.AmazonInfo";
inline constexpr std::string_view kAmazonName = "Amazon";
inline constexpr std::string_view kEmptyMapClass = "java.util.Collections$EmptyMap";

// The fields that are plain strings in both formats (app is separate: it is upper-cased).
struct StringField {
    std::string_view name;
    std::string InstanceInfo::*member;
};
inline constexpr StringField kStringFields[] = {
    {"instanceId", &InstanceInfo::instance_id},
    {"hostName", &InstanceInfo::host_name},
    {"ipAddr", &InstanceInfo::ip_addr},
    {"sid", &InstanceInfo::sid},
    {"appGroupName", &InstanceInfo::app_group_name},
    {"homePageUrl", &InstanceInfo::home_page_url},
    {"statusPageUrl", &InstanceInfo::status_page_url},
    {"healthCheckUrl", &InstanceInfo::health_check_url},
    {"secureHealthCheckUrl", &InstanceInfo::secure_health_check_url},
    {"vipAddress", &InstanceInfo::vip_address},
    {"secureVipAddress", &InstanceInfo::secure_vip_address},
    {"asgName", &InstanceInfo::asg_name},
};

// An InstanceInfo as a reader starts it: defaults, but no data center and no identity.
InstanceInfo blank_instance();

// Written as AmazonInfo (with the data-center metadata) rather than DefaultDataCenterInfo.
bool is_amazon(const InstanceInfo& info);
// sid is written only when set and not one of Eureka's placeholders.
bool sid_is_written(std::string_view sid);

// ---- output ----
void append_number(std::string& out, long long value);
// A JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view s);
// XML element text or attribute value.
void append_xml_text(std::string& out, std::string_view s);
// Whether a metadata key can be rendered as an XML element name (after XStream coding).
bool xml_key_writable(std::string_view key);
// The key XStream-encoded: '_' -> "__", '$' -> "_-".
void append_xml_key(std::string& out, std::string_view key);

// ---- input ----
// The inverse of append_xml_key.
std::string decode_xml_key(std::string_view name);
// Parses decimal integer text into `out`. Blank text leaves `out` unchanged.
Result<void> integer_from_text(std::string_view text, std::string_view field, int& out);
Result<void> integer_from_text(std::string_view text, std::string_view field, Millis& out);
// Ports are integers in 0..65535.
Result<void> port_from_text(std::string_view text, std::string_view field, int& out);
Result<void> port_in_range(long long value, std::string_view field, int& out);
// "true"/"false" in any case. Blank text leaves `out` unchanged.
Result<void> bool_from_text(std::string_view text, std::string_view field, bool& out);
// ADDED/MODIFIED/DELETED in any case; anything else leaves `out` unchanged.
void action_from_text(std::string_view text, ActionType& out);

// Error{kInvalidArgument, "<field>: <reason>"}.
Error invalid(std::string_view field, std::string_view reason);
// Same, quoting (a bounded, printable prefix of) the offending value.
Error invalid_value(std::string_view field, std::string_view expected, std::string_view got);
// Prepends `prefix` to the error's message (for the path of nested documents).
Error prefixed(Error e, std::string_view prefix);

}  // namespace orquestra::registry::codec_detail
