#include "registry/instance_change.hpp"

#include <array>
#include <utility>

namespace orquestra::registry {

namespace {

constexpr std::array<std::pair<RegistryEvent, std::string_view>, 6> kNames = {{
    {RegistryEvent::kRegistered, "registered"},
    {RegistryEvent::kUp, "up"},
    {RegistryEvent::kDown, "down"},
    {RegistryEvent::kOutOfService, "out_of_service"},
    {RegistryEvent::kCancelled, "cancelled"},
    {RegistryEvent::kEvicted, "evicted"},
}};

}  // namespace

std::string_view to_string(RegistryEvent e) {
    for (const auto& [value, name] : kNames) {
        if (value == e) return name;
    }
    return "registered";
}

std::optional<RegistryEvent> parse_registry_event(std::string_view name) {
    for (const auto& [value, text] : kNames) {
        if (text == name) return value;
    }
    return std::nullopt;
}

std::string_view registry_event_names() {
    return "registered, up, down, out_of_service, cancelled, evicted";
}

std::vector<RegistryEvent> events_of(const InstanceChange& change) {
    std::vector<RegistryEvent> out;
    if (!change.new_status) {
        if (change.old_status) {
            out.push_back(change.evicted ? RegistryEvent::kEvicted : RegistryEvent::kCancelled);
        }
        return out;
    }
    if (!change.old_status) out.push_back(RegistryEvent::kRegistered);
    if (change.old_status != change.new_status) {
        switch (*change.new_status) {
            case InstanceStatus::kUp: out.push_back(RegistryEvent::kUp); break;
            case InstanceStatus::kDown: out.push_back(RegistryEvent::kDown); break;
            case InstanceStatus::kOutOfService:
                out.push_back(RegistryEvent::kOutOfService);
                break;
            case InstanceStatus::kStarting:
            case InstanceStatus::kUnknown: break;
        }
    }
    return out;
}

}  // namespace orquestra::registry
