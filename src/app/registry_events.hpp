#pragma once
// Wiring of runs triggered by the registry (YAML on_service): a registry's instance changes go
// to a scheduler engine's ServiceEventSink. In standalone the registry is in the process and
// reports each change as it makes it; a `scheduler` whose registry is another process learns
// them from the deltas its discovery client fetches (every refresh, 1 s by default). Call once
// the engine has started; the sink outlives the engine and takes nothing once it stopped.

#include "discovery/eureka_client.hpp"
#include "registry/instance_registry.hpp"
#include "scheduler/engine.hpp"
#include "scheduler/service_triggers.hpp"

namespace orquestra::app {

inline void feed_registry_events(registry::InstanceRegistry& registry, scheduler::Engine& engine) {
    registry.add_change_listener(
        [sink = engine.service_events()](const registry::InstanceChange& change) {
            sink->post(change);
        });
}

inline void feed_registry_events(discovery::EurekaClient& client, scheduler::Engine& engine) {
    client.subscribe_changes(
        [sink = engine.service_events()](const registry::InstanceChange& change) {
            sink->post(change);
        });
}

}  // namespace orquestra::app
