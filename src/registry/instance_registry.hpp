#pragma once
// InstanceRegistry: the registry's state — leases, status overrides, the recent-changes log for
// deltas, eviction and self-preservation. Pure in-memory and thread-safe: every public method
// takes one mutex for a short, allocation-light critical section and never blocks on I/O.
// Time comes from the injected Clock, so leases and eviction are tested with a FakeClock.
//
// Semantics follow Eureka's server (shared/design/EUREKA.md §5) with deliberate improvements:
// a lease expires one duration after its last renewal (not two), changes are visible to the
// next read, and self-preservation never holds the leases of a small registry (see
// RegistryOptions and README "Self-preservation").

#include "core/clock.hpp"
#include "core/error.hpp"
#include "registry/instance_change.hpp"
#include "registry/model.hpp"
#include "registry/stored_instance.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace orquestra::registry {

struct RegistryOptions {
    bool self_preservation = true;
    // Fraction of leases that must be alive for expired leases to be evicted (Eureka's 0.85).
    double renewal_percent_threshold = 0.85;
    // Self-preservation engages only when at least this many leases exist: in a small registry
    // one dead instance is a large fraction, and it must still be evicted promptly.
    std::size_t self_preservation_min_instances = 10;
    // Even under self-preservation, a lease expired for this long is evicted.
    Millis self_preservation_max_hold_ms = 5 * 60 * 1000;
    Millis delta_retention_ms = 3 * 60 * 1000;
    Millis default_lease_duration_ms = 90 * 1000;
};

struct RenewRequest {
    std::optional<InstanceStatus> status;
    std::optional<InstanceStatus> overridden_status;
    std::optional<Millis> last_dirty_timestamp;
    // From a peer (replication): when our copy is dirtier than the peer's, the lease is still
    // renewed but the answer is kConflict, so that the peer takes our copy (EUREKA.md §5.5).
    bool replication = false;
};

// Counters exported as metrics. Relaxed atomics: they are read for reporting only.
struct RegistryCounters {
    std::atomic<std::uint64_t> registrations{0};
    std::atomic<std::uint64_t> renewals{0};
    std::atomic<std::uint64_t> renewals_not_found{0};
    std::atomic<std::uint64_t> cancels{0};
    std::atomic<std::uint64_t> evictions{0};
    std::atomic<std::uint64_t> status_updates{0};
    // Active health checks (HealthChecker): probes made, probes that failed, and the status
    // changes they caused.
    std::atomic<std::uint64_t> health_probes{0};
    std::atomic<std::uint64_t> health_probe_failures{0};
    std::atomic<std::uint64_t> health_marked_down{0};
    std::atomic<std::uint64_t> health_marked_up{0};
};

// An instance that asked to be probed: it registered a healthCheckUrl.
struct HealthTarget {
    std::string app;
    std::string instance_id;
    std::string host_name;
    std::string ip_addr;
    std::string health_check_url;
};

// What one probe result changed.
enum class HealthChange { kNone, kMarkedDown, kMarkedUp };

struct RegistrySummary {
    std::size_t instances = 0;
    std::size_t apps = 0;
    std::map<std::string, std::size_t> by_status;
    bool self_preservation_active = false;
    std::size_t expired_held = 0;
    std::uint64_t renews_last_minute = 0;
    std::uint64_t expected_renews_per_minute = 0;
};

class InstanceRegistry {
public:
    InstanceRegistry(const Clock& clock, RegistryOptions options = {});

    // Validates and stores `info` under `path_app`. kInvalidArgument names the missing field.
    // `replication`: the copy comes from a peer (a batch item, a replicated call, the startup
    // sync, a 409's newer copy), not from the instance's own client; see record_health().
    Result<void> register_instance(std::string_view path_app, InstanceInfo info,
                                   bool replication = false);
    // kNotFound when there is no such lease or the client must re-register; kConflict only for
    // a replicated renewal whose lastDirtyTimestamp is older than ours.
    Result<void> renew(std::string_view app, std::string_view id, const RenewRequest& request);
    Result<void> cancel(std::string_view app, std::string_view id);
    Result<void> set_status_override(std::string_view app, std::string_view id,
                                     InstanceStatus status,
                                     std::optional<Millis> last_dirty_timestamp);
    Result<void> remove_status_override(std::string_view app, std::string_view id,
                                        std::optional<InstanceStatus> fallback,
                                        std::optional<Millis> last_dirty_timestamp);
    Result<void> update_metadata(std::string_view app, std::string_view id,
                                 const std::vector<std::pair<std::string, std::string>>& kv);

    // Active health checks. The instances with a healthCheckUrl, in no particular order;
    // `direct_only`: only those whose client talks to this node — registered or renewed here
    // by the client itself, not through a peer, within the last lease duration. In a cluster
    // each instance is then probed by the node its client uses, not by every node.
    std::vector<HealthTarget> health_targets(bool direct_only = false) const;
    // Records one probe's outcome for an instance. `failure_threshold` failures in a row turn an
    // UP instance DOWN — a server-made change, recorded in the delta like any other — and the
    // registry then holds it DOWN: a client that reports UP again (registering, or a status in a
    // heartbeat) stays DOWN while it is held. `success_threshold` successes in a row release it
    // and bring it back UP. An instance that is not UP is never changed by a failure (a client's
    // own DOWN, STARTING or OUT_OF_SERVICE stands). kNotFound when the instance is gone.
    //
    // In a cluster the verdict travels as a replicated registration of the instance (the
    // HealthChecker asks its ReplicationSink): a peer takes a replicated copy's status as the
    // sender's word and, when that copy is DOWN and has a healthCheckUrl, holds it DOWN as if
    // it had reached the verdict itself — its client reporting UP at this peer stays DOWN —
    // until this node's own probes pass or the sender replicates it UP.
    Result<HealthChange> record_health(std::string_view app, std::string_view id, bool healthy,
                                       int failure_threshold, int success_threshold);

    // Evicts expired leases (subject to self-preservation) and drops delta entries past their
    // retention. Call on a timer; returns the number of evicted leases.
    std::size_t evict_expired();

    // What a full-registry document is made of: each app with the generation of its last
    // change (so per-app renderings can be cached), and the registry-wide hashcode.
    struct AppVersion {
        std::string name;
        std::uint64_t generation = 0;
    };
    struct View {
        std::uint64_t generation = 0;
        std::string hashcode;
        std::vector<AppVersion> apps;  // sorted by name
    };
    View view() const;
    // One app with the generation it was read at; nullopt when it has no instances.
    std::optional<std::pair<Application, std::uint64_t>> application_at(std::string_view app) const;
    // The generation of an app's last change; nullopt when it has no instances. `app` must be
    // upper-case.
    std::optional<std::uint64_t> app_generation(std::string_view app) const;

    // Snapshots for rendering. Each carries the registry-wide hashcode.
    Applications all_applications() const;
    Applications delta() const;
    std::optional<Application> application(std::string_view app) const;
    Applications by_vip(std::string_view vip, bool secure) const;
    std::optional<InstanceInfo> instance(std::string_view app, std::string_view id) const;
    std::optional<InstanceInfo> instance_by_id(std::string_view id) const;
    // UP instances of an app (what callers choose from), without building documents.
    std::vector<InstanceInfo> up_instances(std::string_view app) const;
    std::size_t count_up(std::string_view app) const;

    // Bumped on every change that alters a rendered document; response caches compare it.
    std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    RegistrySummary summary() const;
    const RegistryCounters& counters() const { return counters_; }
    const RegistryOptions& options() const { return options_; }
    const Clock& clock() const { return clock_; }
    void set_self_preservation(bool on);

    // Called (outside the lock) with the upper-case app name after any change to that app.
    using Listener = std::function<void(const std::string& app)>;
    void add_listener(Listener listener);
    // Called (outside the lock, on the thread that made the change) with each change of an
    // instance's presence or status: registrations, status changes (a client's, an override's,
    // a health check's), cancels and evictions, replicated ones included. Metadata-only
    // changes and renewals are not reported. A listener must return quickly (post the change
    // elsewhere); add listeners before the registry is in use.
    using ChangeListener = std::function<void(const InstanceChange& change)>;
    void add_change_listener(ChangeListener listener);

private:
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    // The instance's data is immutable, compact (StoredInstance) and shared with the
    // recent-changes log; a change replaces it (copy on write), so the log costs a pointer,
    // not a copy.
    struct Lease {
        std::shared_ptr<const StoredInstance> info;
        Millis registration = 0;
        Millis last_renewal = 0;
        Millis service_up = 0;
        Millis duration_ms = 0;
        // Active health checks: consecutive probe results, and whether the registry holds the
        // instance DOWN because of them.
        std::uint16_t health_failures = 0;
        std::uint16_t health_successes = 0;
        bool health_held_down = false;
        // When the instance's own client last registered or renewed here (not via a peer).
        Millis direct_contact = 0;
        Millis expires_at() const { return last_renewal + duration_ms; }
    };
    struct AppEntry {
        std::unordered_map<std::string, Lease, StringHash, std::equal_to<>> leases;
        std::uint64_t generation = 0;  // the registry generation of the app's last change
        std::size_t up = 0;            // leases whose status is UP
    };
    // The recent-changes log keeps the latest change of each instance within the retention
    // window, oldest first: memory stays bounded by the number of instances that changed,
    // however often they did (clients apply a delta as upserts and deletes, so the latest
    // state is all they need).
    struct DeltaItem {
        Millis at = 0;
        std::shared_ptr<const StoredInstance> info;
        ActionType action = ActionType::kAdded;
        LeaseInfo lease;
    };
    using DeltaList = std::list<DeltaItem>;

    Lease* find(std::string_view app, std::string_view id);
    const Lease* find(std::string_view app, std::string_view id) const;
    InstanceInfo render(const Lease& lease) const;
    LeaseInfo lease_info(const Lease& lease) const;
    // Applies `mutate` to a copy of the lease's data and stores it.
    template <class F>
    void modify(Lease& lease, F&& mutate);
    void record_change(AppEntry& app, const Lease& lease, ActionType action, Millis now);
    void purge_delta(Millis now);
    std::string hashcode_locked() const;
    Application render_app(const std::string& name, const AppEntry& entry) const;
    void notify(const std::string& app);
    // Keeps `entry.up` right after an instance's status moved from `before` to `after`
    // (nullopt: absent), and adds the change to `out` when someone listens.
    void note_change(AppEntry& entry, const std::string& app, std::string_view id,
                     std::optional<InstanceStatus> before, std::optional<InstanceStatus> after,
                     bool evicted, Millis now, std::vector<InstanceChange>& out);
    void emit(const std::vector<InstanceChange>& changes);
    std::uint64_t renews_last_minute_locked(Millis now) const;

    const Clock& clock_;
    RegistryOptions options_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, AppEntry, StringHash, std::equal_to<>> apps_;
    std::unordered_map<std::string, InstanceStatus> overrides_;
    std::array<std::size_t, 5> status_counts_{};  // instances by status, for the hashcode
    DeltaList recent_;
    std::unordered_map<std::string, DeltaList::iterator> recent_index_;  // "APP/id"
    std::uint64_t delta_version_ = 0;
    std::atomic<std::uint64_t> generation_{1};
    bool preservation_active_ = false;
    std::size_t expired_held_ = 0;
    // Renewals per second over the last minute, a ring indexed by second.
    struct Bucket {
        Millis second = 0;
        std::uint64_t count = 0;
    };
    mutable std::vector<Bucket> renew_buckets_ = std::vector<Bucket>(60);
    RegistryCounters counters_;
    std::mutex listeners_mu_;
    std::vector<Listener> listeners_;
    std::vector<ChangeListener> change_listeners_;  // guarded by listeners_mu_
    std::atomic<bool> has_change_listeners_{false};
};

}  // namespace orquestra::registry
