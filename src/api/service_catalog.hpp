#pragma once
// ServiceCatalog: what the console shows of the service registry and the one thing it changes
// there (an instance's status override). The API reads it from any thread; standalone gives it
// the in-process registry (app/registry_catalog.hpp). Without one, the services endpoints
// answer 503.

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "registry/instance_registry.hpp"
#include "registry/model.hpp"

namespace orquestra::api {

struct CatalogStatus {
    registry::RegistrySummary summary;
    bool self_preservation_enabled = true;
    // Renewals a minute below which self-preservation holds expired leases.
    std::uint64_t renews_threshold = 0;
};

class ServiceCatalog {
  public:
    virtual ~ServiceCatalog() = default;
    virtual registry::Applications applications() = 0;
    // One app (upper-case name); nullopt when it has no instances.
    virtual std::optional<registry::Application> application(std::string_view app) = 0;
    virtual CatalogStatus status() = 0;
    // OUT_OF_SERVICE (or another status) over what the instance reports; nullopt removes the
    // override. kNotFound when there is no such instance.
    virtual Result<void> override_status(std::string_view app, std::string_view instance_id,
                                         std::optional<registry::InstanceStatus> status) = 0;
};

}  // namespace orquestra::api
