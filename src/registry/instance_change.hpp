#pragma once
// InstanceChange: one change of one instance in a registry, as the workflow side sees it — it
// appeared, its status changed, or it left (cancelled or evicted) — with the app's UP count
// before and after. Produced by InstanceRegistry (in process, at each change) and by
// discovery::EurekaClient (from the deltas it fetches); read by the scheduler's `on_service`
// triggers. Plain data: no lock, no thread.

#include "core/clock.hpp"
#include "registry/model.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orquestra::registry {

// What a DAG's `on_service.events` may name.
enum class RegistryEvent { kRegistered, kUp, kDown, kOutOfService, kCancelled, kEvicted };

// "registered", "up", "down", "out_of_service", "cancelled", "evicted".
std::string_view to_string(RegistryEvent e);
std::optional<RegistryEvent> parse_registry_event(std::string_view name);
// Every event name, comma-separated (for error messages).
std::string_view registry_event_names();

struct InstanceChange {
    std::string app;  // upper-case, as the registry keeps it
    std::string instance_id;
    std::optional<InstanceStatus> old_status;  // nullopt: it was not registered
    std::optional<InstanceStatus> new_status;  // nullopt: it is gone
    bool evicted = false;                      // gone because its lease expired
    Millis time = 0;  // of the change, by the registry's clock (the delta's timestamps)
    // The app's instances with status UP (an expired lease counts until it is evicted).
    std::size_t up_before = 0;
    std::size_t up_after = 0;
};

// The events a change is, in this order: registered (it was absent), then up, down or
// out_of_service (its status changed to one of them), or cancelled or evicted (it is gone).
// A change that is none of them (STARTING, a repeated status) gives none; its UP counts may
// still matter (`below`).
std::vector<RegistryEvent> events_of(const InstanceChange& change);

}  // namespace orquestra::registry
