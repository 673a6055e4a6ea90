#pragma once
// InstanceChoice: the one place where a caller of services chooses an instance and learns
// from what happened — shared by every request of a process (all runs and tasks of a
// scheduler, every call() of an EurekaClient), so one dead instance costs one failed call,
// not one per run.
//
// - Zone affinity: the instances in the caller's zone come first; the others only when the
//   zone has none left to try.
// - Round robin: successive requests of a service start at successive instances.
// - A circuit breaker per service instance: after `breaker_failures` consecutive failures (no
//   connection, a timeout, a 5xx) it opens and the instance is skipped for `breaker_open`; then
//   it is half-open and lets one request through (the probe): success closes it, failure opens
//   it again for twice as long (up to `breaker_max_open`).
// - A retry budget per service: moving on to another instance after a failure ("a failover")
//   spends a token; every request adds `retry_ratio` of one, and the budget fills by
//   `retry_min_per_second` a second, up to `retry_burst`. When the budget is spent a request
//   fails with what it had instead of trying the next instance, so that a failing service is
//   not sent several times its load.
//
// Threads: every member may be called from any thread; one mutex, held only for short map
// updates, never across I/O. Time comes from the Clock (a FakeClock in tests).

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "discovery/service_directory.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orquestra::discovery {

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string_view to_string(BreakerState state);  // "closed", "open", "half_open"

struct ChoiceOptions {
    std::string zone;  // the caller's zone: its instances first; empty: no preference
    int breaker_failures = 1;
    std::chrono::milliseconds breaker_open{5'000};
    std::chrono::milliseconds breaker_max_open{60'000};
    double retry_ratio = 0.2;
    double retry_min_per_second = 10;
    double retry_burst = 20;
    const Clock* clock = nullptr;  // null: SystemClock
};

// One instance's breaker and counters, as the API and the metrics show them.
struct InstanceHealth {
    std::string instance_id;
    BreakerState state = BreakerState::kClosed;
    int consecutive_failures = 0;
    std::optional<Millis> open_until;          // while open: when the next probe may go
    std::chrono::milliseconds back_off{0};     // the current open period
    std::uint64_t calls = 0;
    std::uint64_t failures = 0;
    std::uint64_t opened = 0;                  // times the circuit opened
    std::optional<Millis> last_failure_at;
    std::string last_error;
};

struct ServiceHealth {
    std::string service;  // upper-case
    double retry_tokens = 0;
    std::uint64_t requests = 0;
    std::uint64_t failovers = 0;
    std::uint64_t failovers_denied = 0;  // the retry budget was spent
    std::vector<InstanceHealth> instances;
};

class InstanceChoice {
public:
    explicit InstanceChoice(ChoiceOptions options = {});
    InstanceChoice(const InstanceChoice&) = delete;
    InstanceChoice& operator=(const InstanceChoice&) = delete;

    const ChoiceOptions& options() const { return options_; }

    // The order in which to try `up` for one request: same zone first, each group rotated by
    // this service's round robin; the instances whose circuit is open now (and not due for a
    // probe) are left out and listed in `skipped`. Forgets the breakers of instances no
    // longer in `up`. With `request`, counts a request for the retry budget and moves the
    // round robin on (a mere look, as EurekaClient::choose(), does neither).
    struct Plan {
        std::vector<ServiceInstance> order;
        std::vector<InstanceHealth> skipped;
        // Every UP instance's circuit is open: `order` holds the one whose back-off ends
        // first, called anyway (a request never fails without one call), not admitted as a
        // probe; its outcome closes the circuit or leaves the back-off as it is.
        bool last_resort = false;
    };
    Plan plan(const std::string& service, std::vector<ServiceInstance> up, bool request = true);

    // Just before a request goes to an instance of the plan: false when its circuit opened
    // meanwhile, or it is half-open and another request is its probe. `probe` says whether
    // this request is the half-open circuit's one probe.
    bool admit(const std::string& service, const std::string& instance_id, bool* probe = nullptr);
    // The outcome of an admitted request. `failed`: no connection, a timeout or a 5xx.
    void record(const std::string& service, const std::string& instance_id, bool failed,
                std::chrono::nanoseconds took, std::string_view error = {});
    // Before moving on to another instance after a failure: false when the budget is spent.
    bool take_failover(const std::string& service);

    BreakerState state(const std::string& service, const std::string& instance_id) const;
    // Every service seen, by name; or one (empty when unknown).
    std::vector<ServiceHealth> health() const;
    std::optional<ServiceHealth> health(const std::string& service) const;

    // Prometheus text: breaker states (gauges), calls, failures, openings, failovers and call
    // durations by service and instance.
    void render_metrics(std::string& out) const;

private:
    struct Breaker {
        BreakerState state = BreakerState::kClosed;
        int consecutive_failures = 0;
        Millis opened_at = 0;
        Millis probe_at = 0;
        std::chrono::milliseconds back_off{0};
        std::uint64_t calls = 0;
        std::uint64_t failures = 0;
        std::uint64_t opened = 0;
        std::optional<Millis> last_failure_at;
        std::string last_error;
    };
    struct Service {
        std::map<std::string, Breaker> breakers;  // by instance id
        std::size_t turn = 0;
        double tokens = 0;
        Millis refilled_at = 0;
        std::uint64_t requests = 0;
        std::uint64_t failovers = 0;
        std::uint64_t failovers_denied = 0;
    };
    Service& service_locked(const std::string& name);
    bool may_pass_locked(Breaker& b, Millis now, bool take, bool* probe);
    InstanceHealth describe_locked(const std::string& id, const Breaker& b, Millis now) const;
    ServiceHealth describe_locked(const std::string& name, const Service& s, Millis now) const;

    ChoiceOptions options_;
    const Clock& clock_;
    mutable std::mutex mu_;
    std::map<std::string, Service> services_;  // by upper-case name
    HistogramFamily durations_{duration_bounds()};
};

}  // namespace orquestra::discovery
