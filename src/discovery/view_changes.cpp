#include "discovery/view_changes.hpp"

#include <algorithm>

namespace orquestra::discovery {

namespace {

using registry::InstanceChange;
using registry::InstanceInfo;
using registry::InstanceStatus;

using Instances = std::map<std::string, InstanceInfo>;

std::size_t count_up(const Instances* instances) {
    if (instances == nullptr) return 0;
    return static_cast<std::size_t>(
        std::count_if(instances->begin(), instances->end(), [](const auto& item) {
            return item.second.status == InstanceStatus::kUp;
        }));
}

const Instances* find_app(const RegistryView& view, const std::string& app) {
    auto it = view.find(app);
    return it == view.end() ? nullptr : &it->second;
}

std::size_t up_delta_after(std::size_t before, std::optional<InstanceStatus> old_status,
                           std::optional<InstanceStatus> new_status) {
    std::size_t n = before;
    if (old_status == InstanceStatus::kUp && n > 0) --n;
    if (new_status == InstanceStatus::kUp) ++n;
    return n;
}

}  // namespace

std::optional<InstanceChange> delta_change(const RegistryView& view, const std::string& app,
                                           const InstanceInfo& item) {
    const Instances* instances = find_app(view, app);
    const std::string id = item.id();
    std::optional<InstanceStatus> before;
    if (instances != nullptr) {
        if (auto it = instances->find(id); it != instances->end()) before = it->second.status;
    }
    const bool removed = item.action_type == registry::ActionType::kDeleted;
    std::optional<InstanceStatus> after;
    if (!removed) after = item.status;
    if (before == after) return std::nullopt;
    InstanceChange c;
    c.app = app;
    c.instance_id = id;
    c.old_status = before;
    c.new_status = after;
    if (removed) {
        const registry::LeaseInfo& lease = item.lease;
        c.time = lease.eviction_timestamp;
        c.evicted = lease.eviction_timestamp >
                    lease.last_renewal_timestamp + static_cast<Millis>(lease.duration_secs) * 1000;
    } else {
        c.time = item.last_updated_timestamp;
    }
    c.up_before = count_up(instances);
    c.up_after = up_delta_after(c.up_before, before, after);
    return c;
}

std::vector<InstanceChange> view_changes(const RegistryView& before, const RegistryView& after,
                                         Millis now) {
    std::vector<InstanceChange> out;
    auto diff_app = [&](const std::string& app, const Instances* old_app,
                        const Instances* new_app) {
        std::size_t up = count_up(old_app);
        auto add = [&](const std::string& id, std::optional<InstanceStatus> from,
                       std::optional<InstanceStatus> to, Millis time) {
            if (from == to) return;
            InstanceChange c;
            c.app = app;
            c.instance_id = id;
            c.old_status = from;
            c.new_status = to;
            c.time = time;
            c.up_before = up;
            up = up_delta_after(up, from, to);
            c.up_after = up;
            out.push_back(std::move(c));
        };
        if (old_app != nullptr) {
            for (const auto& [id, info] : *old_app) {
                if (new_app == nullptr || !new_app->contains(id)) {
                    add(id, info.status, std::nullopt, now);
                }
            }
        }
        if (new_app != nullptr) {
            for (const auto& [id, info] : *new_app) {
                std::optional<InstanceStatus> from;
                if (old_app != nullptr) {
                    if (auto it = old_app->find(id); it != old_app->end()) from = it->second.status;
                }
                add(id, from, info.status, info.last_updated_timestamp);
            }
        }
    };
    for (const auto& [app, instances] : before) diff_app(app, &instances, find_app(after, app));
    for (const auto& [app, instances] : after) {
        if (!before.contains(app)) diff_app(app, nullptr, &instances);
    }
    return out;
}

}  // namespace orquestra::discovery
