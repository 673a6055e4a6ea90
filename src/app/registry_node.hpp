#pragma once
// RegistryNode: the registry as a running service — InstanceRegistry, its Eureka REST API on an
// HttpServer, the eviction timer and, with peers, the PeerReplicator — on an io_context owned
// by the caller. start() binds the port, then starts replication and the startup sync from the
// peers (registry reads answer 503 until it ends) and, when asked, the health checks on the
// same loop; stop() closes the port, cancels the timer and stops replication and the checks. Used by `orquestra registry`, by standalone,
// and booted in-process by the integration tests.
//
// A thread of its own gives freed memory back to the system once the API has been quiet for
// `trim_quiet_interval` after handling large short-lived buffers (plain documents for clients
// that do not take gzip, renderings after changes): the allocator would otherwise keep the
// pages of the largest burst for ever. Trimming walks the heap, so it stays off the loop.

#include "core/clock.hpp"
#include "http/io_pool.hpp"
#include "http/server.hpp"
#include "registry/eureka_api.hpp"
#include "registry/health_checker.hpp"
#include "registry/instance_registry.hpp"
#include "registry/peer_replicator.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <thread>

namespace orquestra::app {

struct RegistryNodeOptions {
    http::ServerOptions http;
    registry::RegistryOptions registry;
    registry::EurekaApiOptions api;
    std::chrono::milliseconds eviction_interval{1000};
    // Zero: never trim.
    std::chrono::milliseconds trim_quiet_interval{5000};
    registry::PeerReplicatorOptions replication;  // no peers: a node on its own
    // Set: the node probes its instances' healthCheckUrl (README "Health checks").
    std::optional<registry::HealthCheckOptions> health;
};

class RegistryNode {
public:
    // Timers and the listener run on `io`; connections on `workers` when given.
    RegistryNode(boost::asio::io_context& io, const Clock& clock, RegistryNodeOptions options,
                 http::IoPool* workers = nullptr);
    ~RegistryNode();

    Result<std::uint16_t> start();
    void stop();

    registry::InstanceRegistry& registry() { return registry_; }
    registry::EurekaApi& api() { return api_; }
    std::uint16_t port() const { return server_.port(); }
    // Null without peers.
    registry::PeerReplicator* replicator() { return replicator_.get(); }
    // Null without health checks.
    registry::HealthChecker* health_checker() { return health_.get(); }

private:
    void schedule_eviction();
    void trim_when_quiet(std::stop_token stop);

    boost::asio::io_context& io_;
    RegistryNodeOptions options_;
    registry::InstanceRegistry registry_;
    registry::EurekaApi api_;
    http::HttpServer server_;
    std::unique_ptr<registry::PeerReplicator> replicator_;
    std::unique_ptr<registry::HealthChecker> health_;
    // Shared with the handlers posted to the loop, which may run after the node is gone.
    struct Eviction {
        explicit Eviction(boost::asio::io_context& io) : timer(io) {}
        boost::asio::steady_timer timer;
        std::atomic<bool> stopped{false};
    };
    std::shared_ptr<Eviction> eviction_;
    std::jthread trimmer_;
    bool stopped_ = false;
};

}  // namespace orquestra::app
