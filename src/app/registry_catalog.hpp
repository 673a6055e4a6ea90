#pragma once
// RegistryCatalog: the console's view of the in-process registry (api::ServiceCatalog).

#include "api/service_catalog.hpp"
#include "registry/instance_registry.hpp"

namespace orquestra::app {

class RegistryCatalog final : public api::ServiceCatalog {
public:
    explicit RegistryCatalog(registry::InstanceRegistry& registry) : registry_(registry) {}

    registry::Applications applications() override { return registry_.all_applications(); }
    std::optional<registry::Application> application(std::string_view app) override {
        return registry_.application(app);
    }

    api::CatalogStatus status() override {
        api::CatalogStatus out;
        out.summary = registry_.summary();
        out.self_preservation_enabled = registry_.options().self_preservation;
        out.renews_threshold = static_cast<std::uint64_t>(
            static_cast<double>(out.summary.expected_renews_per_minute) *
            registry_.options().renewal_percent_threshold);
        return out;
    }

    Result<void> override_status(std::string_view app, std::string_view instance_id,
                                 std::optional<registry::InstanceStatus> status) override {
        if (status) return registry_.set_status_override(app, instance_id, *status, std::nullopt);
        // Back to what the instance itself reports: Eureka clients say UP while they run.
        return registry_.remove_status_override(app, instance_id, registry::InstanceStatus::kUp,
                                                std::nullopt);
    }

private:
    registry::InstanceRegistry& registry_;
};

}  // namespace orquestra::app
