// Runs triggered by the registry (YAML on_service): the Engine's side. Changes arrive through
// the ServiceEventSink from whatever thread the registry (or the discovery client) made them
// on, and are turned into runs here, on the loop.

#include "core/strings.hpp"
#include "dag/time_text.hpp"
#include "scheduler/engine.hpp"
#include "scheduler/service_triggers.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <set>

namespace orquestra::scheduler {

void Engine::open_service_events() {
    // Only a scheduler starts runs of its own accord.
    if (!options_.execute || !options_.only_dag.empty()) return;
    watch_services();
    // Called under the sink's lock from any thread: it only posts. close() (in stop() and the
    // destructor) guarantees it is not called once the engine is going.
    service_events_->open([this, alive = alive_] {
        boost::asio::post(loop_, [this, alive] {
            if (*alive) drain_service_events();
        });
    });
}

void Engine::close_service_events() {
    if (service_events_) service_events_->close();
}

void Engine::watch_services() {
    std::set<std::string> services;
    std::set<std::string, std::less<>> ids;
    for (const auto& [id, dag] : dags_) {
        ids.insert(id);
        for (const auto& entry : dag->on_service) services.insert(to_upper(entry.service));
    }
    service_events_->set_watched(std::move(services));
    debounce_->keep_only(ids);
}

void Engine::drain_service_events() {
    for (const auto& change : service_events_->take()) on_instance_change(change);
}

void Engine::on_instance_change(const registry::InstanceChange& change) {
    if (stopped_ || fenced_) return;
    metrics_->registry_events.fetch_add(1, std::memory_order_relaxed);
    // The change's text comes from service instances: it reaches a run id and a conf only
    // when it is short and printable, and its time only when it is a date we can write.
    const bool valid = acceptable_instance_id(change.instance_id) && change.time > 0 &&
                       change.time <= dag::kMaxMillis;
    auto drop = [&](const std::string& dag_id, std::string_view reason) {
        metrics_->registry_events_dropped.add(label_pairs({{"reason", reason}}));
        spdlog::debug("registry event of {} started no run of {}: {}", change.app, dag_id,
                      reason);
    };
    for (const auto& [id, dag] : dags_) {
        if (dag->on_service.empty()) continue;
        auto match = match_on_service(*dag, change);
        if (!match) continue;
        if (!valid) {
            drop(id, "invalid");
            continue;
        }
        if (is_paused(id)) {
            drop(id, "paused");
            continue;
        }
        if (at_run_limit(*dag)) {
            drop(id, "max_active_runs");
            continue;
        }
        // By the registry's time, so that every scheduler drops the same events.
        if (!debounce_->admit(id, match->entry->service, match->entry->min_interval,
                              change.time)) {
            drop(id, "debounced");
            continue;
        }
        auto created = trigger(service_trigger_request(*dag, *match, change));
        if (created) {
            metrics_->registry_runs.add(label_pairs({{"dag_id", id}}));
            spdlog::info("run {} / {} started by the registry: {}", id, created->run_id,
                         created->note);
        } else if (created.error().code == ErrorCode::kConflict) {
            drop(id, "duplicate");  // another scheduler saw the same event first
        } else {
            drop(id, "refused");
            spdlog::warn("registry event of {} started no run of {}: {}", change.app, id,
                         created.error().message);
        }
    }
}

}  // namespace orquestra::scheduler
