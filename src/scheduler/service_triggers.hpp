#pragma once
// Runs triggered by the registry (YAML `on_service`). Three parts:
//  - ServiceEventSink: where a registry hands its changes (any thread, never blocking): a
//    bounded queue, drained on the engine's loop; a change of a service no DAG watches is
//    dropped at the door, and a change that finds the queue full is dropped and counted.
//  - match_on_service() and ServiceDebounce: pure decisions — which entry of a DAG a change
//    matches and with which event, and whether min_interval lets it start a run.
//  - service_trigger_request(): the run a matched change becomes, with an id derived from the
//    event alone, so that several schedulers seeing one event create one run.
// The engine (engine_service_events.cpp) puts them together on its loop.

#include "core/clock.hpp"
#include "dag/dag.hpp"
#include "registry/instance_change.hpp"
#include "scheduler/engine.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace orquestra::scheduler {

class ServiceEventSink {
public:
    // `metrics` counts the changes a full queue dropped.
    explicit ServiceEventSink(std::shared_ptr<EngineMetrics> metrics, std::size_t capacity = 4096)
        : metrics_(std::move(metrics)), capacity_(capacity) {}

    // Any thread; never blocks on more than a short lock. False when the change was dropped:
    // no DAG watches its service, the queue is full (counted), or the sink is closed.
    bool post(const registry::InstanceChange& change);

    // The engine's side. `wake` is called (under the sink's lock, so it must only post) when
    // the first change arrives in an empty queue; close() stops all further calls.
    void open(std::function<void()> wake);
    void close();
    // Upper-case service names some DAG watches; changes of others are not queued.
    void set_watched(std::set<std::string> services);
    std::deque<registry::InstanceChange> take();

private:
    std::shared_ptr<EngineMetrics> metrics_;
    const std::size_t capacity_;
    std::mutex mu_;
    std::deque<registry::InstanceChange> queue_;
    std::set<std::string, std::less<>> watched_;
    std::function<void()> wake_;
    bool wake_pending_ = false;
};

// What a change is to one DAG: the entry it matched and the event the run is told of (one of
// the entry's events, or "below").
struct ServiceMatch {
    const dag::OnService* entry = nullptr;
    std::string event;
};

// The first entry of `dag.on_service` that `change` matches: same service (case aside) and one
// of the change's events among the entry's events (the first such event in events_of()
// order), or else the UP count falling from at least `below` to under it. nullopt: none.
std::optional<ServiceMatch> match_on_service(const dag::Dag& dag,
                                             const registry::InstanceChange& change);

// min_interval per (DAG, service): remembers when each last started a run.
class ServiceDebounce {
public:
    // True, and `now` remembered, when no run of this DAG and service was admitted within
    // `min_interval` before `now`.
    bool admit(const std::string& dag_id, std::string_view service, Millis min_interval,
               Millis now);
    // Forgets the DAGs not in `dag_ids` (their files are gone).
    void keep_only(const std::set<std::string, std::less<>>& dag_ids);

private:
    std::map<std::pair<std::string, std::string>, Millis> last_;
};

// An instance id a run may carry: 1 to 256 printable ASCII characters, no spaces.
bool acceptable_instance_id(std::string_view id);
// `text` made of run-id characters ([A-Za-z0-9_.~:+-]): others become "~XX" (hex), and a
// result longer than `max` is cut and ends in a hash of the whole text instead.
std::string run_id_part(std::string_view text, std::size_t max);

// The run: id registry__<service>__<instance>__<event>__<time ms>, type registry_event,
// logical date the event's time, conf {event, service, instance_id, old_status, new_status,
// time (ISO 8601), up_count}. `instance_id` must be acceptable_instance_id().
TriggerRequest service_trigger_request(const dag::Dag& dag, const ServiceMatch& match,
                                       const registry::InstanceChange& change);

}  // namespace orquestra::scheduler
