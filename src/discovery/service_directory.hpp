#pragma once
// ServiceDirectory: where callers find a service's UP instances by name. Implemented over the
// in-process registry (app/registry_directory.hpp) and over the registry's REST API
// (EurekaClient); the task runners and InstanceChoice read it. Names are case-insensitive.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace orquestra::discovery {

// A service instance as callers see it: where to send a request, and its zone.
struct ServiceInstance {
    std::string id;
    std::string host;
    std::uint16_t port = 0;
    std::string zone;  // metadata.zone; empty: none
};

class ServiceDirectory {
public:
    virtual ~ServiceDirectory() = default;
    // The UP instances of `service` now, in a stable order (any thread).
    virtual std::vector<ServiceInstance> up_instances(const std::string& service) = 0;
    // Calls `on_change(service)` after any change to a service's instances (any thread).
    virtual void subscribe(std::function<void(const std::string& service)> on_change) = 0;
};

}  // namespace orquestra::discovery
