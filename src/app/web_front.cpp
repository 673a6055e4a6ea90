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

void WebFront::add_listener(Application& app) {
    app.add(
        "REST API",
        [this]() -> Result<void> {
            auto port = listen();
            if (!port) return port.error();
            return {};
        },
        [this] { stop(); });
}

std::vector<api::ConfigSection> shown_config(const HomePaths& paths, std::uint16_t port) {
    const std::string database =
        paths.database.empty() ? "sqlite:///" + paths.db.string() : paths.database;
    return {
        {"core",
         {{"orquestra_home", paths.home.string()},
          {"dags_folder", paths.dags.string()},
          {"base_log_folder", paths.logs.string()}}},
        // The API hides the URL's password (api/config.cpp).
        {"database", {{"sql_alchemy_conn", database}}},
        {"webserver", {{"web_server_port", std::to_string(port)}}},
        {"api",
         {{"auth_backends", "basic_auth, session"},
          {"maximum_page_limit", "100"}}},
    };
}

void WebFront::add_api(Application& app, std::optional<api::ApiServer>& api, WorkflowNode& node,
                       api::ApiOptions options) {
    app.add(
        "API handlers",
        [this, &api, &node, options]() mutable -> Result<void> {
            auto readers = node.open_readers(2);
            if (!readers) return readers.error();
            options.readers = *readers;
            options.choice = &node.choice();
            if (options.config.empty()) options.config = shown_config(node.paths(), port());
            options.secret_keys = &node.secret_keys();
            serve(api.emplace(node.engine(), node.store(), node.loop(), options));
            return {};
        },
        [this] { stop(); });
}

}  // namespace orquestra::app
