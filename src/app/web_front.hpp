#pragma once
// WebFront: the REST API, the workflow side's Prometheus metrics (/metrics) and the console on
// one port, as `standalone` and `webserver` serve them. The port listens first (a port in use stops a process before anything ran) and answers
// the API's paths with 503 until serve() hands it the API; the rest is the console's.

#include "api/api.hpp"
#include "app/application.hpp"
#include "app/workflow_node.hpp"
#include "http/io_pool.hpp"
#include "http/server.hpp"
#include "web/console.hpp"

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

namespace orquestra::app {

// What GET /api/v1/config shows of a process: its home, folders, database (the API masks the
// URL's password) and port.
std::vector<api::ConfigSection> shown_config(const HomePaths& paths, std::uint16_t port);

class WebFront {
public:
    WebFront(http::IoPool& pool, http::ServerOptions options);

    Result<std::uint16_t> listen() { return server_.start(); }
    // From now on the API's paths go to `api`, which must outlive stop().
    void serve(api::ApiServer& api) { api_.store(&api, std::memory_order_release); }
    // Closes the port and every connection: no request runs on the API afterwards.
    void stop() { server_.stop(); }
    std::uint16_t port() const { return server_.port(); }

    // Its two parts in a process: "REST API", the port (added first: a port in use stops the
    // process before anything ran), and "API handlers", which makes `api` on `node` with
    // `options` and two read-only connections of its own (added last; stopping it closes the
    // port, so that no request waits on an engine that stopped).
    void add_listener(Application& app);
    void add_api(Application& app, std::optional<api::ApiServer>& api, WorkflowNode& node,
                 api::ApiOptions options);

private:
    const web::WebConsole console_;
    std::atomic<api::ApiServer*> api_{nullptr};
    http::HttpServer server_;
};

}  // namespace orquestra::app
