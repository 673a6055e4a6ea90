#pragma once
// ServiceRegistration: this process as an instance of a service in a registry (Orquestra's or
// any Eureka server), so that http tasks — and any Eureka client — find it by name.
//
//     orquestra::ServiceRegistration reg({.registry_url = "http://127.0.0.1:8761/eureka",
//                                         .app_name = "servico_pedidos", .port = 8081});
//     reg.start();                       // registers, then heartbeats in the background
//     reg.wait_registered(std::chrono::seconds(5));
//     ...
//     reg.stop();                        // cancels the instance (also done by the destructor)
//
// A registry that is down is retried in the background; the instance registers again when the
// registry has forgotten it. Threads: a thread of its own; every method may be called from any
// thread. Failures: the constructor throws std::invalid_argument for bad options; nothing else
// throws.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace orquestra {

struct RegistrationOptions {
    std::string registry_url = "http://127.0.0.1:8761/eureka";  // comma-separated for several
    std::string registry_auth{};  // user:password for a registry whose URL has none
    std::string app_name{};       // the service's name ("servico_pedidos"); registered upper-case
    std::string host = "127.0.0.1";  // where callers reach this process
    std::uint16_t port = 0;
    std::string instance_id{};            // empty: host:app:port
    std::string health_path = "/health";  // empty: no health check URL
    std::string zone{};                   // metadata.zone
    std::map<std::string, std::string> metadata{};
    std::chrono::seconds heartbeat_interval{30};
    std::chrono::seconds lease_duration{90};
};

class ServiceRegistration {
  public:
    explicit ServiceRegistration(RegistrationOptions options);
    ~ServiceRegistration();
    ServiceRegistration(const ServiceRegistration&) = delete;
    ServiceRegistration& operator=(const ServiceRegistration&) = delete;

    // Registers in the background and keeps the lease with heartbeats. Idempotent.
    void start();
    // Cancels the instance in the registry (bounded wait) and stops. Idempotent.
    void stop();
    // Blocks until the registry accepted the registration; false on timeout.
    bool wait_registered(std::chrono::milliseconds timeout) const;
    const std::string& instance_id() const;

  private:
    struct State;
    std::unique_ptr<State> state_{};
};

}  // namespace orquestra
