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
      eviction_timer_(io) {}

RegistryNode::~RegistryNode() { stop(); }

Result<std::uint16_t> RegistryNode::start() {
    auto port = server_.start();
    if (!port) return port;
    schedule_eviction();
    return port;
}

void RegistryNode::stop() {
    if (stopped_) return;
    stopped_ = true;
    server_.stop();
    boost::asio::post(io_, [this] { eviction_timer_.cancel(); });
}

void RegistryNode::schedule_eviction() {
    eviction_timer_.expires_after(options_.eviction_interval);
    eviction_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        std::size_t evicted = registry_.evict_expired();
        if (evicted > 0) spdlog::info("evicted {} expired lease(s)", evicted);
        schedule_eviction();
    });
}

}  // namespace orquestra::app
