#include "registry/model.hpp"

#include "core/strings.hpp"

#include <array>
#include <charconv>

namespace orquestra::registry {

namespace {

constexpr std::array<InstanceStatus, 5> kAllStatuses = {
    InstanceStatus::kUp, InstanceStatus::kDown, InstanceStatus::kStarting,
    InstanceStatus::kOutOfService, InstanceStatus::kUnknown};

constexpr std::string_view kAmazonName = "Amazon";
constexpr std::string_view kAmazonClass = "com.netflix.appinfo.AmazonInfo";

}  // namespace

std::string_view to_string(InstanceStatus s) {
    switch (s) {
        case InstanceStatus::kUp:
            return "UP";
        case InstanceStatus::kDown:
            return "DOWN";
        case InstanceStatus::kStarting:
            return "STARTING";
        case InstanceStatus::kOutOfService:
            return "OUT_OF_SERVICE";
        case InstanceStatus::kUnknown:
            return "UNKNOWN";
    }
    return "UNKNOWN";
}

std::string_view to_string(ActionType a) {
    switch (a) {
        case ActionType::kAdded:
            return "ADDED";
        case ActionType::kModified:
            return "MODIFIED";
        case ActionType::kDeleted:
            return "DELETED";
    }
    return "ADDED";
}

// Eureka's InstanceStatus.toEnum upper-cases before matching, so names are case-insensitive.
std::optional<InstanceStatus> parse_status_strict(std::string_view s) {
    for (InstanceStatus status : kAllStatuses) {
        if (iequals(s, to_string(status))) return status;
    }
    return std::nullopt;
}

InstanceStatus parse_status(std::string_view s) {
    return parse_status_strict(s).value_or(InstanceStatus::kUnknown);
}

std::string InstanceInfo::id() const {
    if (!instance_id.empty()) return instance_id;
    // Eureka: an AmazonInfo data center is a UniqueIdentifier whose id is its instance-id.
    if (data_center_name == kAmazonName || data_center_class == kAmazonClass) {
        for (const auto& [key, value] : data_center_metadata) {
            if (key == "instance-id" && !value.empty()) return value;
        }
    }
    return host_name;
}

const std::string* InstanceInfo::find_metadata(std::string_view key) const {
    for (const auto& entry : metadata) {
        if (entry.first == key) return &entry.second;
    }
    return nullptr;
}

void InstanceInfo::set_metadata(std::string_view key, std::string_view value) {
    for (auto& entry : metadata) {
        if (entry.first == key) {
            entry.second.assign(value);
            return;
        }
    }
    metadata.emplace_back(std::string(key), std::string(value));
}

std::string reconcile_hashcode(const std::vector<const InstanceInfo*>& instances) {
    std::array<std::size_t, kAllStatuses.size()> counts{};
    for (const InstanceInfo* info : instances) {
        if (info == nullptr) continue;
        counts[static_cast<std::size_t>(info->status)] += 1;
    }
    // Sorted by status name, as Eureka's TreeMap orders them.
    constexpr std::array<InstanceStatus, 5> kByName = {
        InstanceStatus::kDown, InstanceStatus::kOutOfService, InstanceStatus::kStarting,
        InstanceStatus::kUnknown, InstanceStatus::kUp};
    std::string out;
    for (InstanceStatus status : kByName) {
        std::size_t n = counts[static_cast<std::size_t>(status)];
        if (n == 0) continue;
        out += to_string(status);
        out += '_';
        char buf[24];
        auto res = std::to_chars(buf, buf + sizeof buf, n);
        out.append(buf, res.ptr);
        out += '_';
    }
    return out;
}

}  // namespace orquestra::registry
