#include "discovery/instance_choice.hpp"

#include "core/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <set>

namespace orquestra::discovery {

namespace {

constexpr std::size_t kMaxErrorText = 300;

}  // namespace

std::string_view to_string(BreakerState state) {
    switch (state) {
        case BreakerState::kClosed:
            return "closed";
        case BreakerState::kOpen:
            return "open";
        case BreakerState::kHalfOpen:
            return "half_open";
    }
    return "closed";
}

InstanceChoice::InstanceChoice(ChoiceOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : SystemClock::instance()) {
    options_.breaker_failures = std::max(1, options_.breaker_failures);
    options_.breaker_open = std::max(options_.breaker_open, std::chrono::milliseconds(1));
    options_.breaker_max_open = std::max(options_.breaker_max_open, options_.breaker_open);
    options_.retry_burst = std::max(1.0, options_.retry_burst);
}

InstanceChoice::Service& InstanceChoice::service_locked(const std::string& name) {
    auto it = services_.find(name);
    if (it == services_.end()) {
        Service s;
        s.tokens = options_.retry_burst;
        s.refilled_at = clock_.now_ms();
        it = services_.emplace(name, std::move(s)).first;
    }
    return it->second;
}

// Whether a request may go through `b` now; with `take`, an elapsed open circuit becomes
// half-open and this request is its probe.
bool InstanceChoice::may_pass_locked(Breaker& b, Millis now, bool take, bool* probe) {
    if (probe != nullptr) *probe = false;
    switch (b.state) {
        case BreakerState::kClosed:
            return true;
        case BreakerState::kOpen:
            if (now - b.opened_at < b.back_off.count()) return false;
            break;
        case BreakerState::kHalfOpen:
            // A probe that never reported (its caller went away) does not hold it for ever.
            if (now - b.probe_at < b.back_off.count()) return false;
            break;
    }
    if (take) {
        b.state = BreakerState::kHalfOpen;
        b.probe_at = now;
        if (probe != nullptr) *probe = true;
    }
    return true;
}

InstanceChoice::Plan InstanceChoice::plan(const std::string& service_in,
                                          std::vector<ServiceInstance> up, bool request) {
    const std::string name = to_upper(service_in);
    Plan out;
    std::vector<ServiceInstance> near, far;
    for (auto& s : up) {
        (!options_.zone.empty() && s.zone == options_.zone ? near : far).push_back(std::move(s));
    }
    std::lock_guard lock(mu_);
    Service& svc = service_locked(name);
    const Millis now = clock_.now_ms();
    if (request) ++svc.requests;
    if (request && options_.retry_ratio > 0) {
        svc.tokens = std::min(options_.retry_burst, svc.tokens + options_.retry_ratio);
    }
    const std::size_t turn = request ? svc.turn++ : svc.turn;
    std::vector<ServiceInstance> held;  // skipped for their open circuits, in skipped's order
    // Forget instances that left: the registry says they are gone (their breakers with them).
    std::set<std::string> present;
    for (const auto* group : {&near, &far}) {
        for (const auto& s : *group) present.insert(s.id);
    }
    std::erase_if(svc.breakers, [&](const auto& kv) { return !present.contains(kv.first); });
    for (auto* group : {&near, &far}) {
        if (group->empty()) continue;
        std::rotate(group->begin(),
                    group->begin() + static_cast<std::ptrdiff_t>(turn % group->size()),
                    group->end());
        for (auto& s : *group) {
            auto it = svc.breakers.find(s.id);
            if (it != svc.breakers.end() && !may_pass_locked(it->second, now, false, nullptr)) {
                out.skipped.push_back(describe_locked(s.id, it->second, now));
                held.push_back(std::move(s));
                continue;
            }
            out.order.push_back(std::move(s));
        }
    }
    if (out.order.empty() && !held.empty()) {
        // The circuit that reopens first; open_until is unset for a half-open one (a probe in
        // flight), which goes last.
        std::size_t first = 0;
        const auto until = [&](std::size_t i) {
            return out.skipped[i].open_until.value_or(std::numeric_limits<Millis>::max());
        };
        for (std::size_t i = 1; i < held.size(); ++i) {
            if (until(i) < until(first)) first = i;
        }
        out.order.push_back(std::move(held[first]));
        out.skipped.erase(out.skipped.begin() + static_cast<std::ptrdiff_t>(first));
        out.last_resort = true;
    }
    return out;
}

bool InstanceChoice::admit(const std::string& service, const std::string& instance_id,
                           bool* probe) {
    std::lock_guard lock(mu_);
    Service& svc = service_locked(to_upper(service));
    auto it = svc.breakers.find(instance_id);
    if (it == svc.breakers.end()) {
        if (probe != nullptr) *probe = false;
        return true;
    }
    return may_pass_locked(it->second, clock_.now_ms(), true, probe);
}

void InstanceChoice::record(const std::string& service, const std::string& instance_id,
                            bool failed, std::chrono::nanoseconds took, std::string_view error) {
    const std::string name = to_upper(service);
    durations_.observe(label_pairs({{"service", name}, {"instance", instance_id}}),
                       std::chrono::duration<double>(took).count());
    std::lock_guard lock(mu_);
    Service& svc = service_locked(name);
    Breaker& b = svc.breakers[instance_id];
    ++b.calls;
    const Millis now = clock_.now_ms();
    if (!failed) {
        b.state = BreakerState::kClosed;
        b.consecutive_failures = 0;
        b.back_off = std::chrono::milliseconds(0);
        return;
    }
    ++b.failures;
    ++b.consecutive_failures;
    b.last_failure_at = now;
    b.last_error = std::string(error.substr(0, kMaxErrorText));
    switch (b.state) {
        case BreakerState::kClosed:
            if (b.consecutive_failures < options_.breaker_failures) return;
            b.back_off = options_.breaker_open;
            break;
        case BreakerState::kHalfOpen:
            // The probe failed: open again, for longer.
            b.back_off = std::min(options_.breaker_max_open,
                                  std::max(options_.breaker_open, b.back_off * 2));
            break;
        case BreakerState::kOpen:
            return;  // a request sent before it opened: the back-off stands
    }
    b.state = BreakerState::kOpen;
    b.opened_at = now;
    ++b.opened;
}

bool InstanceChoice::take_failover(const std::string& service) {
    std::lock_guard lock(mu_);
    Service& svc = service_locked(to_upper(service));
    const Millis now = clock_.now_ms();
    if (now > svc.refilled_at) {
        svc.tokens = std::min(options_.retry_burst,
                              svc.tokens + options_.retry_min_per_second *
                                               static_cast<double>(now - svc.refilled_at) / 1000.0);
        svc.refilled_at = now;
    }
    if (svc.tokens < 1.0) {
        ++svc.failovers_denied;
        return false;
    }
    svc.tokens -= 1.0;
    ++svc.failovers;
    return true;
}

BreakerState InstanceChoice::state(const std::string& service,
                                   const std::string& instance_id) const {
    std::lock_guard lock(mu_);
    auto it = services_.find(to_upper(service));
    if (it == services_.end()) return BreakerState::kClosed;
    auto b = it->second.breakers.find(instance_id);
    if (b == it->second.breakers.end()) return BreakerState::kClosed;
    // An open circuit whose back-off has ended is due for its probe.
    if (b->second.state == BreakerState::kOpen &&
        clock_.now_ms() - b->second.opened_at >= b->second.back_off.count()) {
        return BreakerState::kHalfOpen;
    }
    return b->second.state;
}

InstanceHealth InstanceChoice::describe_locked(const std::string& id, const Breaker& b,
                                               Millis now) const {
    InstanceHealth h;
    h.instance_id = id;
    h.state = b.state;
    if (b.state == BreakerState::kOpen && now - b.opened_at >= b.back_off.count()) {
        h.state = BreakerState::kHalfOpen;
    }
    h.consecutive_failures = b.consecutive_failures;
    if (b.state == BreakerState::kOpen) h.open_until = b.opened_at + b.back_off.count();
    h.back_off = b.back_off;
    h.calls = b.calls;
    h.failures = b.failures;
    h.opened = b.opened;
    h.last_failure_at = b.last_failure_at;
    h.last_error = b.last_error;
    return h;
}

ServiceHealth InstanceChoice::describe_locked(const std::string& name, const Service& s,
                                              Millis now) const {
    ServiceHealth out;
    out.service = name;
    out.retry_tokens = s.tokens;
    out.requests = s.requests;
    out.failovers = s.failovers;
    out.failovers_denied = s.failovers_denied;
    for (const auto& [id, b] : s.breakers) out.instances.push_back(describe_locked(id, b, now));
    return out;
}

std::vector<ServiceHealth> InstanceChoice::health() const {
    std::lock_guard lock(mu_);
    const Millis now = clock_.now_ms();
    std::vector<ServiceHealth> out;
    for (const auto& [name, s] : services_) out.push_back(describe_locked(name, s, now));
    return out;
}

std::optional<ServiceHealth> InstanceChoice::health(const std::string& service) const {
    std::lock_guard lock(mu_);
    auto it = services_.find(to_upper(service));
    if (it == services_.end()) return std::nullopt;
    return describe_locked(it->first, it->second, clock_.now_ms());
}

void InstanceChoice::render_metrics(std::string& out) const {
    const auto all = health();
    metric_header(out, "orquestra_service_breaker_state", "gauge",
                  "Circuit breaker of each service instance: 1 for its current state.");
    for (const auto& s : all) {
        for (const auto& i : s.instances) {
            for (auto st : {BreakerState::kClosed, BreakerState::kOpen, BreakerState::kHalfOpen}) {
                metric_sample(out, "orquestra_service_breaker_state",
                              label_pairs({{"service", s.service},
                                           {"instance", i.instance_id},
                                           {"state", to_string(st)}}),
                              i.state == st ? 1 : 0);
            }
        }
    }
    auto per_instance = [&](std::string_view name, std::string_view help, auto value) {
        metric_header(out, name, "counter", help);
        for (const auto& s : all) {
            for (const auto& i : s.instances) {
                metric_sample(out, name,
                              label_pairs({{"service", s.service}, {"instance", i.instance_id}}),
                              static_cast<double>(value(i)));
            }
        }
    };
    per_instance("orquestra_service_calls_total", "Requests sent to a service instance.",
                 [](const InstanceHealth& i) { return i.calls; });
    per_instance("orquestra_service_call_failures_total",
                 "Requests to a service instance that failed (no connection, timeout, 5xx).",
                 [](const InstanceHealth& i) { return i.failures; });
    per_instance("orquestra_service_breaker_opened_total",
                 "Times the circuit breaker of a service instance opened.",
                 [](const InstanceHealth& i) { return i.opened; });
    auto per_service = [&](std::string_view name, std::string_view type, std::string_view help,
                           auto value) {
        metric_header(out, name, type, help);
        for (const auto& s : all) {
            metric_sample(out, name, label_pairs({{"service", s.service}}),
                          static_cast<double>(value(s)));
        }
    };
    per_service("orquestra_service_requests_total", "counter",
                "Requests to a service (each may try several instances).",
                [](const ServiceHealth& s) { return s.requests; });
    per_service("orquestra_service_failovers_total", "counter",
                "Requests moved on to another instance after a failure.",
                [](const ServiceHealth& s) { return s.failovers; });
    per_service("orquestra_service_failovers_denied_total", "counter",
                "Failovers not made because the service's retry budget was spent.",
                [](const ServiceHealth& s) { return s.failovers_denied; });
    per_service("orquestra_service_retry_budget_tokens", "gauge",
                "Failovers the service's retry budget allows now.",
                [](const ServiceHealth& s) { return s.retry_tokens; });
    metric_header(out, "orquestra_service_call_duration_seconds", "histogram",
                  "Time of each request to a service instance, until its answer or failure.");
    durations_.render(out, "orquestra_service_call_duration_seconds");
}

}  // namespace orquestra::discovery
