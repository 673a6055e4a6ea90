#include "scheduler/service_triggers.hpp"

#include "core/strings.hpp"
#include "dag/time_text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace orquestra::scheduler {

namespace json = boost::json;

// --- ServiceEventSink ---------------------------------------------------------------------------

bool ServiceEventSink::post(const registry::InstanceChange& change) {
    std::lock_guard lock(mu_);
    if (!wake_ || !watched_.contains(change.app)) return false;
    if (queue_.size() >= capacity_) {
        metrics_->registry_events_dropped.add(label_pairs({{"reason", "queue_full"}}));
        return false;
    }
    queue_.push_back(change);
    if (!wake_pending_) {
        wake_pending_ = true;
        wake_();
    }
    return true;
}

void ServiceEventSink::open(std::function<void()> wake) {
    std::lock_guard lock(mu_);
    wake_ = std::move(wake);
    wake_pending_ = !queue_.empty();
    if (wake_pending_) wake_();
}

void ServiceEventSink::close() {
    std::lock_guard lock(mu_);
    wake_ = nullptr;
    queue_.clear();
}

void ServiceEventSink::set_watched(std::set<std::string> services) {
    std::lock_guard lock(mu_);
    watched_.clear();
    watched_.insert(services.begin(), services.end());
}

std::deque<registry::InstanceChange> ServiceEventSink::take() {
    std::lock_guard lock(mu_);
    wake_pending_ = false;
    return std::exchange(queue_, {});
}

// --- matching -----------------------------------------------------------------------------------

std::optional<ServiceMatch> match_on_service(const dag::Dag& dag,
                                             const registry::InstanceChange& change) {
    std::vector<registry::RegistryEvent> events;
    bool events_known = false;
    for (const auto& entry : dag.on_service) {
        if (!iequals(entry.service, change.app)) continue;
        if (!entry.events.empty()) {
            if (!events_known) {
                events = registry::events_of(change);
                events_known = true;
            }
            for (auto e : events) {
                std::string_view name = registry::to_string(e);
                if (std::find(entry.events.begin(), entry.events.end(), name) !=
                    entry.events.end()) {
                    return ServiceMatch{&entry, std::string(name)};
                }
            }
        }
        if (entry.below) {
            auto n = static_cast<std::size_t>(*entry.below);
            if (change.up_before >= n && change.up_after < n) return ServiceMatch{&entry, "below"};
        }
    }
    return std::nullopt;
}

bool ServiceDebounce::admit(const std::string& dag_id, std::string_view service,
                            Millis min_interval, Millis now) {
    auto key = std::make_pair(dag_id, to_upper(service));
    auto it = last_.find(key);
    if (it != last_.end() && min_interval > 0 && now < it->second + min_interval) return false;
    last_[std::move(key)] = now;
    return true;
}

void ServiceDebounce::keep_only(const std::set<std::string, std::less<>>& dag_ids) {
    std::erase_if(last_, [&](const auto& item) { return !dag_ids.contains(item.first.first); });
}

// --- the run ------------------------------------------------------------------------------------

bool acceptable_instance_id(std::string_view id) {
    return !id.empty() && id.size() <= 256 &&
           std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string run_id_part(std::string_view text, std::size_t max) {
    std::string out;
    for (char c : text) {
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '.' || c == ':' || c == '+' || c == '-';
        if (plain) {
            out.push_back(c);
        } else {
            out += fmt::format("~{:02X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        }
    }
    if (out.size() <= max) return out;
    // FNV-1a: the same in every process, so that two schedulers still agree on the id.
    std::uint64_t h = 1469598103934665603ULL;
    for (char c : text) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    std::string tail = fmt::format("~{:016x}", h);
    out.resize(max > tail.size() ? max - tail.size() : 0);
    return out + tail;
}

TriggerRequest service_trigger_request(const dag::Dag& dag, const ServiceMatch& match,
                                       const registry::InstanceChange& change) {
    TriggerRequest req;
    req.dag_id = dag.dag_id;
    const std::string& service = match.entry->service;
    req.run_id = fmt::format("registry__{}__{}__{}__{}", service,
                             run_id_part(change.instance_id, 100), match.event, change.time);
    req.run_type = store::RunType::kRegistryEvent;
    req.logical_date = change.time;
    auto status = [](const std::optional<registry::InstanceStatus>& s) -> json::value {
        if (!s) return nullptr;
        return json::string(registry::to_string(*s));
    };
    req.conf["event"] = match.event;
    req.conf["service"] = service;
    req.conf["instance_id"] = change.instance_id;
    req.conf["old_status"] = status(change.old_status);
    req.conf["new_status"] = status(change.new_status);
    req.conf["time"] = dag::format_datetime(change.time);
    req.conf["up_count"] = change.up_after;
    req.note = fmt::format("{} of {} instance {}", match.event, service, change.instance_id);
    return req;
}

}  // namespace orquestra::scheduler
