#include "app/registry_node.hpp"

#include <spdlog/spdlog.h>

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
    return port;
}

void RegistryNode::stop() {
    if (stopped_) return;
    stopped_ = true;
    server_.stop();
    if (replicator_) replicator_->stop();
    eviction_->stopped = true;
    boost::asio::post(io_, [eviction = eviction_] { eviction->timer.cancel(); });
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
