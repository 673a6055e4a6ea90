#pragma once
// The Eureka data model as the registry stores it and the codecs read and write it.
// Field names follow Eureka's InstanceInfo; see shared/design/EUREKA.md §3.

#include "core/clock.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orquestra::registry {

enum class InstanceStatus { kUp, kDown, kStarting, kOutOfService, kUnknown };
enum class ActionType { kAdded, kModified, kDeleted };

std::string_view to_string(InstanceStatus s);
std::string_view to_string(ActionType a);
// Unknown names read as kUnknown, as Eureka does.
InstanceStatus parse_status(std::string_view s);
// nullopt when `s` is not one of the five status names (used where a bad name is an error).
std::optional<InstanceStatus> parse_status_strict(std::string_view s);

struct PortInfo {
    int port = 0;
    bool enabled = false;
};

struct LeaseInfo {
    int renewal_interval_secs = 30;
    int duration_secs = 90;
    Millis registration_timestamp = 0;
    Millis last_renewal_timestamp = 0;
    Millis eviction_timestamp = 0;
    Millis service_up_timestamp = 0;
};

// Metadata keeps insertion order (it is small; a vector beats a map here).
using Metadata = std::vector<std::pair<std::string, std::string>>;

struct InstanceInfo {
    std::string instance_id;  // may be empty on input; the registry fills it (see id())
    std::string host_name;
    std::string app;  // upper-case once stored
    std::string app_group_name;
    std::string ip_addr;
    std::string sid;  // written only when not "na"
    InstanceStatus status = InstanceStatus::kUp;
    InstanceStatus overridden_status = InstanceStatus::kUnknown;
    PortInfo port{7001, true};
    PortInfo secure_port{7002, false};
    int country_id = 1;
    std::string data_center_class = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo";
    std::string data_center_name = "MyOwn";
    Metadata data_center_metadata;  // AmazonInfo's metadata (instance-id, availability-zone…)
    LeaseInfo lease;
    Metadata metadata;
    std::string home_page_url;
    std::string status_page_url;
    std::string health_check_url;
    std::string secure_health_check_url;
    std::string vip_address;
    std::string secure_vip_address;
    bool is_coordinating_discovery_server = false;
    Millis last_updated_timestamp = 0;
    Millis last_dirty_timestamp = 0;
    ActionType action_type = ActionType::kAdded;
    std::string asg_name;

    // The id used in URLs: instanceId, else the AWS instance-id, else hostName.
    std::string id() const;
    const std::string* find_metadata(std::string_view key) const;
    void set_metadata(std::string_view key, std::string_view value);
};

struct Application {
    std::string name;
    std::vector<InstanceInfo> instances;
};

struct Applications {
    std::string versions_delta = "1";
    std::string apps_hashcode;
    std::vector<Application> applications;
};

// Eureka's reconcile hashcode: "STATUS_count_" for each status present, sorted by name.
std::string reconcile_hashcode(const std::vector<const InstanceInfo*>& instances);

}  // namespace orquestra::registry
