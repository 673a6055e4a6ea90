#include "registry/instance_registry.hpp"

#include "core/strings.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace orquestra::registry {

namespace {

Error not_found(std::string_view app, std::string_view id) {
    return Error{ErrorCode::kNotFound, fmt::format("no instance '{}' of app '{}'", id, app)};
}

bool vip_matches(std::string_view list, std::string_view vip) {
    for (auto part : split(list, ',')) {
        if (iequals(trim(part), vip)) return true;
    }
    return false;
}

std::size_t status_index(InstanceStatus s) { return static_cast<std::size_t>(s); }

std::string delta_key(const StoredInstance& info) {
    std::string key;
    key.reserve(info.app().size() + 1 + info.instance_id().size());
    key.append(info.app());
    key.push_back('/');
    key.append(info.instance_id());
    return key;
}

}  // namespace

InstanceRegistry::InstanceRegistry(const Clock& clock, RegistryOptions options)
    : clock_(clock), options_(options) {}

InstanceRegistry::Lease* InstanceRegistry::find(std::string_view app, std::string_view id) {
    auto a = apps_.find(app);
    if (a == apps_.end()) return nullptr;
    auto l = a->second.leases.find(id);
    return l == a->second.leases.end() ? nullptr : &l->second;
}

const InstanceRegistry::Lease* InstanceRegistry::find(std::string_view app,
                                                      std::string_view id) const {
    return const_cast<InstanceRegistry*>(this)->find(app, id);
}

LeaseInfo InstanceRegistry::lease_info(const Lease& lease) const {
    LeaseInfo l = lease.info->lease;
    l.registration_timestamp = lease.registration;
    l.last_renewal_timestamp = lease.last_renewal;
    l.service_up_timestamp = lease.service_up;
    l.eviction_timestamp = 0;
    l.duration_secs = static_cast<int>(lease.duration_ms / 1000);
    return l;
}

InstanceInfo InstanceRegistry::render(const Lease& lease) const {
    InstanceInfo info = lease.info->expand();
    info.lease = lease_info(lease);
    return info;
}

template <class F>
void InstanceRegistry::modify(Lease& lease, F&& mutate) {
    InstanceInfo copy = lease.info->expand();
    InstanceStatus before = copy.status;
    mutate(copy);
    if (copy.status != before) {
        --status_counts_[status_index(before)];
        ++status_counts_[status_index(copy.status)];
    }
    lease.info = StoredInstance::make(copy);
}

void InstanceRegistry::record_change(AppEntry& app, const Lease& lease, ActionType action,
                                     Millis now) {
    DeltaItem item{now, lease.info, action, lease_info(lease)};
    if (action == ActionType::kDeleted) item.lease.eviction_timestamp = now;
    std::string key = delta_key(*lease.info);
    if (auto old = recent_index_.find(key); old != recent_index_.end()) {
        recent_.erase(old->second);
        recent_index_.erase(old);
    }
    recent_.push_back(std::move(item));
    recent_index_.emplace(std::move(key), std::prev(recent_.end()));
    ++delta_version_;
    app.generation = generation_.fetch_add(1, std::memory_order_acq_rel) + 1;
}

void InstanceRegistry::purge_delta(Millis now) {
    bool dropped = false;
    while (!recent_.empty() && recent_.front().at + options_.delta_retention_ms < now) {
        recent_index_.erase(delta_key(*recent_.front().info));
        recent_.pop_front();
        dropped = true;
    }
    if (dropped) {
        ++delta_version_;
        generation_.fetch_add(1, std::memory_order_acq_rel);
    }
}

Result<void> InstanceRegistry::register_instance(std::string_view path_app, InstanceInfo info,
                                                bool replication) {
    std::string app = to_upper(path_app);
    if (app.empty()) return Error{ErrorCode::kInvalidArgument, "Missing appName"};
    if (info.host_name.empty()) return Error{ErrorCode::kInvalidArgument, "Missing hostname"};
    if (info.ip_addr.empty()) return Error{ErrorCode::kInvalidArgument, "Missing ip address"};
    if (info.app.empty()) return Error{ErrorCode::kInvalidArgument, "Missing appName"};
    info.app = to_upper(info.app);
    if (info.app != app) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("Mismatched appName, expecting {} but was {}", app, info.app)};
    }
    if (info.data_center_class.empty() && info.data_center_name.empty()) {
        return Error{ErrorCode::kInvalidArgument, "Missing dataCenterInfo"};
    }
    if (info.data_center_name.empty()) {
        return Error{ErrorCode::kInvalidArgument, "Missing dataCenterInfo Name"};
    }
    if (info.data_center_class.empty()) {
        info.data_center_class = info.data_center_name == "Amazon"
                                     ? "com.netflix.appinfo.AmazonInfo"
                                     : "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo";
    }
    if (info.instance_id.empty()) info.instance_id = info.id();
    if (info.instance_id.size() > 1024 || info.host_name.size() > 1024 || app.size() > 1024) {
        return Error{ErrorCode::kInvalidArgument, "instance id, host name or app name too long"};
    }
    Millis now = clock_.now_ms();
    std::string id = info.instance_id;
    std::vector<InstanceChange> changes;
    {
        std::lock_guard lock(mu_);
        auto& entry = apps_[app];
        auto it = entry.leases.find(id);
        Lease lease;
        lease.registration = now;
        std::optional<InstanceStatus> before;
        if (it != entry.leases.end()) {
            const Lease& existing = it->second;
            before = existing.info->status;
            // The server keeps its copy when it is dirtier than the incoming one.
            if (existing.info->last_dirty_timestamp > info.last_dirty_timestamp &&
                info.last_dirty_timestamp != 0) {
                info = existing.info->expand();
            }
            lease.service_up = existing.service_up;
            lease.health_failures = existing.health_failures;
            lease.health_successes = existing.health_successes;
            lease.health_held_down = existing.health_held_down;
            lease.direct_contact = existing.direct_contact;
            --status_counts_[status_index(existing.info->status)];
        }
        if (info.last_dirty_timestamp == 0) info.last_dirty_timestamp = now;
        if (info.overridden_status != InstanceStatus::kUnknown && !overrides_.contains(id)) {
            overrides_[id] = info.overridden_status;
        }
        // DOWN, STARTING and UNKNOWN reported by the client always win; otherwise a stored
        // override (from PUT .../status) does.
        if (info.status == InstanceStatus::kUp || info.status == InstanceStatus::kOutOfService) {
            if (auto o = overrides_.find(id); o != overrides_.end()) {
                info.status = o->second;
                info.overridden_status = o->second;
            }
        }
        if (replication) {
            // A peer's copy carries the peer's word: its health verdict (DOWN), held here too
            // until this node's probes or the peer release it, or its client's.
            lease.health_held_down =
                info.status == InstanceStatus::kDown && !info.health_check_url.empty();
        } else if (lease.health_held_down) {
            // Failing health checks hold an instance DOWN whatever the client says of itself; a
            // client that reports something other than UP is taken at its word.
            if (info.status == InstanceStatus::kUp) {
                info.status = InstanceStatus::kDown;
            } else {
                lease.health_held_down = false;
            }
        }
        if (info.status == InstanceStatus::kUp && lease.service_up == 0) lease.service_up = now;
        info.last_updated_timestamp = now;
        info.action_type = ActionType::kAdded;
        lease.last_renewal = now;
        if (!replication) lease.direct_contact = now;
        lease.duration_ms = info.lease.duration_secs > 0
                                ? static_cast<Millis>(info.lease.duration_secs) * 1000
                                : options_.default_lease_duration_ms;
        if (info.lease.renewal_interval_secs <= 0) info.lease.renewal_interval_secs = 30;
        ++status_counts_[status_index(info.status)];
        lease.info = StoredInstance::make(info);
        auto& slot = entry.leases[id];
        slot = std::move(lease);
        record_change(entry, slot, ActionType::kAdded, now);
        note_change(entry, app, id, before, slot.info->status, false, now, changes);
    }
    counters_.registrations.fetch_add(1, std::memory_order_relaxed);
    notify(app);
    emit(changes);
    return {};
}

Result<void> InstanceRegistry::renew(std::string_view app_in, std::string_view id,
                                     const RenewRequest& request) {
    std::string app = to_upper(app_in);
    Millis now = clock_.now_ms();
    bool changed = false;
    bool conflict = false;
    std::vector<InstanceChange> changes;
    {
        std::lock_guard lock(mu_);
        auto a = apps_.find(app);
        Lease* lease = nullptr;
        if (a != apps_.end()) {
            auto l = a->second.leases.find(id);
            if (l != a->second.leases.end()) lease = &l->second;
        }
        if (lease == nullptr) {
            counters_.renewals_not_found.fetch_add(1, std::memory_order_relaxed);
            return not_found(app, id);
        }
        const StoredInstance& info = *lease->info;
        // A client whose copy is newer than ours must register again so we learn it.
        if (request.last_dirty_timestamp &&
            *request.last_dirty_timestamp > info.last_dirty_timestamp) {
            counters_.renewals_not_found.fetch_add(1, std::memory_order_relaxed);
            return Error{ErrorCode::kNotFound,
                         fmt::format("instance '{}' of '{}' has newer data on the client", id, app)};
        }
        if (info.status == InstanceStatus::kUnknown) {
            // Its override was removed without a fallback: make the client register again.
            counters_.renewals_not_found.fetch_add(1, std::memory_order_relaxed);
            return Error{ErrorCode::kNotFound,
                         fmt::format("instance '{}' of '{}' has status UNKNOWN", id, app)};
        }
        auto o = overrides_.empty() ? overrides_.end() : overrides_.find(std::string(id));
        if (o != overrides_.end() && info.status != o->second &&
            info.status != InstanceStatus::kDown && info.status != InstanceStatus::kStarting) {
            InstanceStatus s = o->second;
            InstanceStatus before = info.status;
            modify(*lease, [s, now](InstanceInfo& i) {
                i.status = s;
                i.overridden_status = s;
                i.last_updated_timestamp = now;
            });
            record_change(a->second, *lease, ActionType::kModified, now);
            note_change(a->second, app, id, before, s, false, now, changes);
            changed = true;
        }
        lease->last_renewal = now;
        if (!request.replication) lease->direct_contact = now;
        Bucket& b = renew_buckets_[static_cast<std::size_t>((now / 1000) % 60)];
        if (b.second != now / 1000) {
            b.second = now / 1000;
            b.count = 0;
        }
        ++b.count;
        conflict = request.replication && request.last_dirty_timestamp &&
                   *request.last_dirty_timestamp < lease->info->last_dirty_timestamp;
    }
    counters_.renewals.fetch_add(1, std::memory_order_relaxed);
    if (changed) notify(app);
    emit(changes);
    if (conflict) {
        return Error{ErrorCode::kConflict,
                     fmt::format("instance '{}' of '{}' is newer here than at the peer", id, app)};
    }
    return {};
}

Result<void> InstanceRegistry::cancel(std::string_view app_in, std::string_view id) {
    std::string app = to_upper(app_in);
    Millis now = clock_.now_ms();
    std::vector<InstanceChange> changes;
    {
        std::lock_guard lock(mu_);
        auto a = apps_.find(app);
        if (a == apps_.end()) return not_found(app, id);
        auto l = a->second.leases.find(id);
        if (l == a->second.leases.end()) return not_found(app, id);
        record_change(a->second, l->second, ActionType::kDeleted, now);
        note_change(a->second, app, id, l->second.info->status, std::nullopt, false, now,
                    changes);
        --status_counts_[status_index(l->second.info->status)];
        overrides_.erase(std::string(id));
        a->second.leases.erase(l);
        if (a->second.leases.empty()) apps_.erase(a);
    }
    counters_.cancels.fetch_add(1, std::memory_order_relaxed);
    notify(app);
    emit(changes);
    return {};
}

Result<void> InstanceRegistry::set_status_override(std::string_view app_in, std::string_view id,
                                                   InstanceStatus status,
                                                   std::optional<Millis> last_dirty_timestamp) {
    std::string app = to_upper(app_in);
    Millis now = clock_.now_ms();
    std::vector<InstanceChange> changes;
    {
        std::lock_guard lock(mu_);
        auto a = apps_.find(app);
        Lease* lease = find(app, id);
        if (lease == nullptr) return not_found(app, id);
        InstanceStatus before = lease->info->status;
        overrides_[std::string(id)] = status;
        modify(*lease, [&](InstanceInfo& i) {
            i.overridden_status = status;
            i.status = status;
            if (last_dirty_timestamp) i.last_dirty_timestamp = *last_dirty_timestamp;
            i.last_updated_timestamp = now;
        });
        lease->last_renewal = now;
        if (status == InstanceStatus::kUp && lease->service_up == 0) lease->service_up = now;
        record_change(a->second, *lease, ActionType::kModified, now);
        note_change(a->second, app, id, before, status, false, now, changes);
    }
    counters_.status_updates.fetch_add(1, std::memory_order_relaxed);
    notify(app);
    emit(changes);
    return {};
}

Result<void> InstanceRegistry::remove_status_override(std::string_view app_in,
                                                      std::string_view id,
                                                      std::optional<InstanceStatus> fallback,
                                                      std::optional<Millis> last_dirty_timestamp) {
    std::string app = to_upper(app_in);
    Millis now = clock_.now_ms();
    std::vector<InstanceChange> changes;
    {
        std::lock_guard lock(mu_);
        auto a = apps_.find(app);
        Lease* lease = find(app, id);
        if (lease == nullptr) return not_found(app, id);
        InstanceStatus before = lease->info->status;
        overrides_.erase(std::string(id));
        InstanceStatus next = fallback.value_or(InstanceStatus::kUnknown);
        if (lease->health_held_down && next == InstanceStatus::kUp) next = InstanceStatus::kDown;
        modify(*lease, [&](InstanceInfo& i) {
            i.overridden_status = InstanceStatus::kUnknown;
            i.status = next;
            if (last_dirty_timestamp) i.last_dirty_timestamp = *last_dirty_timestamp;
            i.last_updated_timestamp = now;
        });
        record_change(a->second, *lease, ActionType::kModified, now);
        note_change(a->second, app, id, before, next, false, now, changes);
    }
    counters_.status_updates.fetch_add(1, std::memory_order_relaxed);
    notify(app);
    emit(changes);
    return {};
}

Result<void> InstanceRegistry::update_metadata(
    std::string_view app_in, std::string_view id,
    const std::vector<std::pair<std::string, std::string>>& kv) {
    std::string app = to_upper(app_in);
    Millis now = clock_.now_ms();
    {
        std::lock_guard lock(mu_);
        auto a = apps_.find(app);
        Lease* lease = find(app, id);
        if (lease == nullptr) return not_found(app, id);
        modify(*lease, [&](InstanceInfo& i) {
            for (const auto& [k, v] : kv) i.set_metadata(k, v);
            i.last_dirty_timestamp = now;
            i.last_updated_timestamp = now;
        });
        lease->last_renewal = now;
        record_change(a->second, *lease, ActionType::kModified, now);
    }
    notify(app);
    return {};
}

std::vector<HealthTarget> InstanceRegistry::health_targets(bool direct_only) const {
    // The shared data is collected under the lock (a pointer each), expanded outside it.
    std::vector<std::shared_ptr<const StoredInstance>> infos;
    const Millis now = clock_.now_ms();
    {
        std::lock_guard lock(mu_);
        for (const auto& [name, entry] : apps_) {
            for (const auto& [id, lease] : entry.leases) {
                if (direct_only && (lease.direct_contact == 0 ||
                                    now - lease.direct_contact > lease.duration_ms)) {
                    continue;
                }
                infos.push_back(lease.info);
            }
        }
    }
    std::vector<HealthTarget> out;
    for (const auto& stored : infos) {
        InstanceInfo info = stored->expand();
        if (info.health_check_url.empty()) continue;
        out.push_back({std::move(info.app), std::move(info.instance_id), std::move(info.host_name),
                       std::move(info.ip_addr), std::move(info.health_check_url)});
    }
    return out;
}

Result<HealthChange> InstanceRegistry::record_health(std::string_view app_in, std::string_view id,
                                                     bool healthy, int failure_threshold,
                                                     int success_threshold) {
    std::string app = to_upper(app_in);
    Millis now = clock_.now_ms();
    HealthChange change = HealthChange::kNone;
    std::vector<InstanceChange> changes;
    counters_.health_probes.fetch_add(1, std::memory_order_relaxed);
    if (!healthy) counters_.health_probe_failures.fetch_add(1, std::memory_order_relaxed);
    {
        std::lock_guard lock(mu_);
        auto a = apps_.find(app);
        Lease* lease = find(app, id);
        if (lease == nullptr) return not_found(app, id);
        constexpr std::uint16_t kSaturated = 60000;
        if (healthy) {
            lease->health_failures = 0;
            if (lease->health_successes < kSaturated) ++lease->health_successes;
            if (lease->health_held_down && lease->health_successes >= success_threshold) {
                lease->health_held_down = false;
                if (lease->info->status == InstanceStatus::kDown) {
                    modify(*lease, [now](InstanceInfo& i) {
                        i.status = InstanceStatus::kUp;
                        i.last_updated_timestamp = now;
                    });
                    if (lease->service_up == 0) lease->service_up = now;
                    record_change(a->second, *lease, ActionType::kModified, now);
                    note_change(a->second, app, id, InstanceStatus::kDown, InstanceStatus::kUp,
                                false, now, changes);
                    change = HealthChange::kMarkedUp;
                }
            }
        } else {
            lease->health_successes = 0;
            if (lease->health_failures < kSaturated) ++lease->health_failures;
            if (!lease->health_held_down && lease->health_failures >= failure_threshold &&
                lease->info->status == InstanceStatus::kUp) {
                lease->health_held_down = true;
                // lastDirtyTimestamp stays the client's: its data did not change, and its
                // heartbeats must keep renewing the lease.
                modify(*lease, [now](InstanceInfo& i) {
                    i.status = InstanceStatus::kDown;
                    i.last_updated_timestamp = now;
                });
                record_change(a->second, *lease, ActionType::kModified, now);
                note_change(a->second, app, id, InstanceStatus::kUp, InstanceStatus::kDown, false,
                            now, changes);
                change = HealthChange::kMarkedDown;
            }
        }
    }
    if (change == HealthChange::kMarkedDown) {
        counters_.health_marked_down.fetch_add(1, std::memory_order_relaxed);
    } else if (change == HealthChange::kMarkedUp) {
        counters_.health_marked_up.fetch_add(1, std::memory_order_relaxed);
    }
    if (change != HealthChange::kNone) notify(app);
    emit(changes);
    return change;
}

std::size_t InstanceRegistry::evict_expired() {
    Millis now = clock_.now_ms();
    std::vector<std::string> changed_apps;
    std::vector<InstanceChange> changes;
    std::size_t evicted = 0;
    {
        std::lock_guard lock(mu_);
        purge_delta(now);
        std::size_t total = 0;
        struct Expired {
            std::string app, id;
            Millis expired_for;
        };
        std::vector<Expired> expired;
        for (const auto& [app, entry] : apps_) {
            total += entry.leases.size();
            for (const auto& [id, lease] : entry.leases) {
                if (now > lease.expires_at()) {
                    expired.push_back({app, id, now - lease.expires_at()});
                }
            }
        }
        // Self-preservation: when too many leases lapse at once the registry itself is more
        // likely cut off than the instances dead, so keep them — in a registry large enough
        // for the fraction to mean something, and only for a bounded time.
        double alive = total == 0 ? 1.0
                                  : static_cast<double>(total - expired.size()) /
                                        static_cast<double>(total);
        preservation_active_ = options_.self_preservation &&
                               total >= options_.self_preservation_min_instances &&
                               alive < options_.renewal_percent_threshold;
        expired_held_ = 0;
        for (const auto& e : expired) {
            if (preservation_active_ && e.expired_for < options_.self_preservation_max_hold_ms) {
                ++expired_held_;
                continue;
            }
            auto a = apps_.find(e.app);
            auto l = a->second.leases.find(e.id);
            record_change(a->second, l->second, ActionType::kDeleted, now);
            note_change(a->second, e.app, e.id, l->second.info->status, std::nullopt, true, now,
                        changes);
            --status_counts_[status_index(l->second.info->status)];
            overrides_.erase(e.id);
            a->second.leases.erase(l);
            if (a->second.leases.empty()) apps_.erase(a);
            if (std::find(changed_apps.begin(), changed_apps.end(), e.app) == changed_apps.end()) {
                changed_apps.push_back(e.app);
            }
            ++evicted;
        }
        if (expired_held_ == 0) preservation_active_ = false;
    }
    counters_.evictions.fetch_add(evicted, std::memory_order_relaxed);
    for (const auto& app : changed_apps) notify(app);
    emit(changes);
    return evicted;
}

std::string InstanceRegistry::hashcode_locked() const {
    std::vector<std::pair<std::string_view, std::size_t>> parts;
    for (std::size_t s = 0; s < status_counts_.size(); ++s) {
        if (status_counts_[s] > 0) {
            parts.emplace_back(to_string(static_cast<InstanceStatus>(s)), status_counts_[s]);
        }
    }
    std::sort(parts.begin(), parts.end());
    std::string out;
    for (const auto& [name, n] : parts) out += fmt::format("{}_{}_", name, n);
    return out;
}

Application InstanceRegistry::render_app(const std::string& name, const AppEntry& entry) const {
    Application app{name, {}};
    app.instances.reserve(entry.leases.size());
    for (const auto& [id, lease] : entry.leases) app.instances.push_back(render(lease));
    std::sort(app.instances.begin(), app.instances.end(),
              [](const InstanceInfo& a, const InstanceInfo& b) {
                  return a.instance_id < b.instance_id;
              });
    return app;
}

InstanceRegistry::View InstanceRegistry::view() const {
    View v;
    std::lock_guard lock(mu_);
    v.generation = generation_.load(std::memory_order_acquire);
    v.hashcode = hashcode_locked();
    v.apps.reserve(apps_.size());
    for (const auto& [name, entry] : apps_) v.apps.push_back({name, entry.generation});
    std::sort(v.apps.begin(), v.apps.end(),
              [](const AppVersion& a, const AppVersion& b) { return a.name < b.name; });
    return v;
}

std::optional<std::pair<Application, std::uint64_t>> InstanceRegistry::application_at(
    std::string_view app_in) const {
    std::string app = to_upper(app_in);
    std::lock_guard lock(mu_);
    auto a = apps_.find(app);
    if (a == apps_.end() || a->second.leases.empty()) return std::nullopt;
    return std::make_pair(render_app(app, a->second), a->second.generation);
}

std::optional<std::uint64_t> InstanceRegistry::app_generation(std::string_view app) const {
    std::lock_guard lock(mu_);
    auto a = apps_.find(app);
    if (a == apps_.end() || a->second.leases.empty()) return std::nullopt;
    return a->second.generation;
}

Applications InstanceRegistry::all_applications() const {
    Applications out;
    std::lock_guard lock(mu_);
    out.versions_delta = "1";
    out.apps_hashcode = hashcode_locked();
    out.applications.reserve(apps_.size());
    for (const auto& [name, entry] : apps_) out.applications.push_back(render_app(name, entry));
    std::sort(out.applications.begin(), out.applications.end(),
              [](const Application& a, const Application& b) { return a.name < b.name; });
    return out;
}

Applications InstanceRegistry::delta() const {
    Applications out;
    std::lock_guard lock(mu_);
    out.versions_delta = std::to_string(delta_version_);
    out.apps_hashcode = hashcode_locked();
    std::unordered_map<std::string_view, std::size_t> index;
    for (const auto& item : recent_) {
        auto [it, inserted] = index.emplace(item.info->app(), out.applications.size());
        if (inserted) out.applications.push_back(Application{std::string(item.info->app()), {}});
        InstanceInfo info = item.info->expand();
        info.action_type = item.action;
        info.lease = item.lease;
        out.applications[it->second].instances.push_back(std::move(info));
    }
    return out;
}

std::optional<Application> InstanceRegistry::application(std::string_view app_in) const {
    auto a = application_at(app_in);
    if (!a) return std::nullopt;
    return std::move(a->first);
}

Applications InstanceRegistry::by_vip(std::string_view vip, bool secure) const {
    Applications out;
    std::lock_guard lock(mu_);
    out.versions_delta = "-1";
    std::vector<const InstanceInfo*> chosen;
    for (const auto& [name, entry] : apps_) {
        Application app{name, {}};
        for (const auto& [id, lease] : entry.leases) {
            const auto list = secure ? lease.info->secure_vip_address() : lease.info->vip_address();
            if (vip_matches(list, vip)) app.instances.push_back(render(lease));
        }
        if (!app.instances.empty()) out.applications.push_back(std::move(app));
    }
    std::sort(out.applications.begin(), out.applications.end(),
              [](const Application& a, const Application& b) { return a.name < b.name; });
    for (const auto& app : out.applications) {
        for (const auto& i : app.instances) chosen.push_back(&i);
    }
    out.apps_hashcode = reconcile_hashcode(chosen);
    return out;
}

std::optional<InstanceInfo> InstanceRegistry::instance(std::string_view app_in,
                                                       std::string_view id) const {
    std::string app = to_upper(app_in);
    std::lock_guard lock(mu_);
    const Lease* lease = find(app, id);
    if (lease == nullptr || clock_.now_ms() > lease->expires_at()) return std::nullopt;
    return render(*lease);
}

std::optional<InstanceInfo> InstanceRegistry::instance_by_id(std::string_view id) const {
    std::lock_guard lock(mu_);
    for (const auto& [name, entry] : apps_) {
        auto l = entry.leases.find(id);
        if (l != entry.leases.end()) return render(l->second);
    }
    return std::nullopt;
}

std::vector<InstanceInfo> InstanceRegistry::up_instances(std::string_view app_in) const {
    std::string app = to_upper(app_in);
    std::vector<InstanceInfo> out;
    std::lock_guard lock(mu_);
    auto a = apps_.find(app);
    if (a == apps_.end()) return out;
    Millis now = clock_.now_ms();
    for (const auto& [id, lease] : a->second.leases) {
        if (lease.info->status == InstanceStatus::kUp && now <= lease.expires_at()) {
            out.push_back(render(lease));
        }
    }
    std::sort(out.begin(), out.end(), [](const InstanceInfo& x, const InstanceInfo& y) {
        return x.instance_id < y.instance_id;
    });
    return out;
}

std::size_t InstanceRegistry::count_up(std::string_view app_in) const {
    std::string app = to_upper(app_in);
    std::lock_guard lock(mu_);
    auto a = apps_.find(app);
    if (a == apps_.end()) return 0;
    Millis now = clock_.now_ms();
    std::size_t n = 0;
    for (const auto& [id, lease] : a->second.leases) {
        if (lease.info->status == InstanceStatus::kUp && now <= lease.expires_at()) ++n;
    }
    return n;
}

std::uint64_t InstanceRegistry::renews_last_minute_locked(Millis now) const {
    std::uint64_t n = 0;
    Millis sec = now / 1000;
    for (const auto& b : renew_buckets_) {
        if (b.second > sec - 60 && b.second <= sec) n += b.count;
    }
    return n;
}

RegistrySummary InstanceRegistry::summary() const {
    RegistrySummary s;
    Millis now = clock_.now_ms();
    std::lock_guard lock(mu_);
    s.apps = apps_.size();
    double expected = 0;
    for (const auto& [name, entry] : apps_) {
        for (const auto& [id, lease] : entry.leases) {
            ++s.instances;
            expected += 60.0 / std::max(1, lease.info->lease.renewal_interval_secs);
        }
    }
    for (std::size_t i = 0; i < status_counts_.size(); ++i) {
        if (status_counts_[i] > 0) {
            s.by_status[std::string(to_string(static_cast<InstanceStatus>(i)))] =
                status_counts_[i];
        }
    }
    s.self_preservation_active = preservation_active_;
    s.expired_held = expired_held_;
    s.renews_last_minute = renews_last_minute_locked(now);
    s.expected_renews_per_minute = static_cast<std::uint64_t>(expected);
    return s;
}

void InstanceRegistry::set_self_preservation(bool on) {
    std::lock_guard lock(mu_);
    options_.self_preservation = on;
}

void InstanceRegistry::add_listener(Listener listener) {
    std::lock_guard lock(listeners_mu_);
    listeners_.push_back(std::move(listener));
}

void InstanceRegistry::notify(const std::string& app) {
    std::vector<Listener> copy;
    {
        std::lock_guard lock(listeners_mu_);
        if (listeners_.empty()) return;
        copy = listeners_;
    }
    for (const auto& l : copy) l(app);
}

void InstanceRegistry::add_change_listener(ChangeListener listener) {
    std::lock_guard lock(listeners_mu_);
    change_listeners_.push_back(std::move(listener));
    has_change_listeners_.store(true, std::memory_order_release);
}

void InstanceRegistry::note_change(AppEntry& entry, const std::string& app, std::string_view id,
                                   std::optional<InstanceStatus> before,
                                   std::optional<InstanceStatus> after, bool evicted, Millis now,
                                   std::vector<InstanceChange>& out) {
    std::size_t up_before = entry.up;
    if (before == InstanceStatus::kUp) --entry.up;
    if (after == InstanceStatus::kUp) ++entry.up;
    if (!has_change_listeners_.load(std::memory_order_acquire)) return;
    if (before == after) return;
    InstanceChange c;
    c.app = app;
    c.instance_id = std::string(id);
    c.old_status = before;
    c.new_status = after;
    c.evicted = evicted;
    c.time = now;
    c.up_before = up_before;
    c.up_after = entry.up;
    out.push_back(std::move(c));
}

void InstanceRegistry::emit(const std::vector<InstanceChange>& changes) {
    if (changes.empty()) return;
    std::vector<ChangeListener> copy;
    {
        std::lock_guard lock(listeners_mu_);
        copy = change_listeners_;
    }
    for (const auto& change : changes) {
        for (const auto& l : copy) l(change);
    }
}

}  // namespace orquestra::registry
