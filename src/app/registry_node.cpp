#include "app/registry_node.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace orquestra::app {

RegistryNode::RegistryNode(boost::asio::io_context& io, const Clock& clock,
                           RegistryNodeOptions options, http::IoPool* workers)
    : io_(io),
      options_(std::move(options)),
      registry_(clock, options_.registry),
      api_(registry_, options_.api),
      server_(io, options_.http,
              http::SyncHandler(
                  [this](http::Request& req, http::Response& res) { api_.handle_sync(req, res); }),
              workers),
      eviction_(std::make_shared<Eviction>(io)) {
    if (!options_.replication.peers.empty()) {
        replicator_ = std::make_unique<registry::PeerReplicator>(registry_, options_.replication);
        api_.set_replication(replicator_.get());
    }
    if (options_.health) {
        registry::HealthCheckOptions health = *options_.health;
        // In a cluster each instance is probed by the node its client uses, and the verdicts
        // are replicated (README "Health checks").
        if (replicator_) health.direct_only = true;
        health_ = std::make_unique<registry::HealthChecker>(io_, registry_, health);
        health_->set_replication(replicator_.get());
    }
}

RegistryNode::~RegistryNode() { stop(); }

Result<std::uint16_t> RegistryNode::start() {
    auto port = server_.start();
    if (!port) return port;
    if (replicator_) {
        replicator_->set_self(options_.http.host, *port);
        replicator_->start();
    }
    schedule_eviction();
    if (health_) health_->start();
    if (options_.trim_quiet_interval.count() > 0) {
        trimmer_ = std::jthread([this](std::stop_token stop) { trim_when_quiet(stop); });
    }
    return port;
}

void RegistryNode::stop() {
    if (stopped_) return;
    stopped_ = true;
    server_.stop();
    if (trimmer_.joinable()) {
        trimmer_.request_stop();
        trimmer_.join();
    }
    if (health_) health_->stop();  // before the replicator its verdicts go to
    if (replicator_) replicator_->stop();
    eviction_->stopped = true;
    boost::asio::post(io_, [eviction = eviction_] { eviction->timer.cancel(); });
}

void RegistryNode::trim_when_quiet(std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any wake;
    std::unique_lock lock(mu);
    std::uint64_t seen = api_.transient_bytes();
    bool pending = false;
    while (!wake.wait_for(lock, stop, options_.trim_quiet_interval, [] { return false; }) &&
           !stop.stop_requested()) {
        const std::uint64_t now = api_.transient_bytes();
        if (now != seen) {
            seen = now;
            pending = true;  // busy: wait for a quiet interval
        } else if (pending) {
            pending = false;
#if defined(__GLIBC__)
            ::malloc_trim(0);
#endif
        }
    }
}

void RegistryNode::schedule_eviction() {
    eviction_->timer.expires_after(options_.eviction_interval);
    eviction_->timer.async_wait([this, eviction = eviction_](const boost::system::error_code& ec) {
        if (ec || eviction->stopped) return;
        std::size_t evicted = registry_.evict_expired();
        if (evicted > 0) spdlog::info("evicted {} expired lease(s)", evicted);
        schedule_eviction();
    });
}

}  // namespace orquestra::app
