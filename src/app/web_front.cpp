#include "app/web_front.hpp"

namespace orquestra::app {

WebFront::WebFront(http::IoPool& pool, http::ServerOptions options)
    : server_(pool.first(), std::move(options),
              http::Handler([this](http::Request& req,
                                   http::Response& res) -> boost::asio::awaitable<void> {
                  if (!api::ApiServer::owns(req.path())) {
                      console_.handle(req, res);
                      co_return;
                  }
                  if (auto* api = api_.load(std::memory_order_acquire)) {
                      co_await api->handle(req, res);
                  } else {
                      res.set(503, "text/plain; charset=utf-8", "Starting, try again shortly\n");
                      res.add_header("Retry-After", "1");
                  }
              }),
              &pool) {}

}  // namespace orquestra::app
