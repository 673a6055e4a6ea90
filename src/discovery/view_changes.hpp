#pragma once
// The instance changes (registry/instance_change.hpp) a registry client learns from what it
// fetches: each item of a delta against the view it applies to, or two full views against each
// other. What lets a process whose registry is another process see the same events as one
// holding the registry (the scheduler's `on_service` triggers). Pure functions.

#include "core/clock.hpp"
#include "registry/instance_change.hpp"
#include "registry/model.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace orquestra::discovery {

// By upper-case app name, then instance id.
using RegistryView = std::map<std::string, std::map<std::string, registry::InstanceInfo>>;

// What one delta item (ADDED, MODIFIED or DELETED) changes in `view`, before it is applied:
// nullopt when its presence and status stay as they are (a delta repeats the changes of the
// last minutes). Its time is the registry's (lastUpdatedTimestamp, or the lease's
// evictionTimestamp for a removal); a removal after the lease had run out is an eviction.
std::optional<registry::InstanceChange> delta_change(const RegistryView& view,
                                                     const std::string& app,
                                                     const registry::InstanceInfo& item);

// The changes from `before` to `after` (two full fetches): appeared, status changed, gone
// (a cancel, at `now`: a full view does not say why or when).
std::vector<registry::InstanceChange> view_changes(const RegistryView& before,
                                                   const RegistryView& after, Millis now);

}  // namespace orquestra::discovery
