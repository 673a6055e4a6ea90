#pragma once
// RegistryDirectory: task runners' view of services, read straight from the in-process
// registry (no HTTP, no cache to go stale), with change notifications from it.

#include "discovery/service_directory.hpp"
#include "registry/instance_registry.hpp"

namespace orquestra::app {

class RegistryDirectory final : public discovery::ServiceDirectory {
public:
    explicit RegistryDirectory(registry::InstanceRegistry& registry) : registry_(registry) {}

    std::vector<discovery::ServiceInstance> up_instances(const std::string& service) override {
        std::vector<discovery::ServiceInstance> out;
        for (const auto& info : registry_.up_instances(service)) {
            discovery::ServiceInstance s;
            s.id = info.instance_id;
            s.host = info.ip_addr.empty() ? info.host_name : info.ip_addr;
            s.port = static_cast<std::uint16_t>(info.port.port);
            if (const auto* zone = info.find_metadata("zone")) s.zone = *zone;
            out.push_back(std::move(s));
        }
        return out;
    }

    void subscribe(std::function<void(const std::string& service)> on_change) override {
        registry_.add_listener(std::move(on_change));
    }

private:
    registry::InstanceRegistry& registry_;
};

}  // namespace orquestra::app
