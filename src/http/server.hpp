#pragma once
// HttpServer: HTTP/1.1 on Boost.Beast, one coroutine per connection, keep-alive, and limits on
// everything a client controls (header and body size, time to send a request, idle time,
// number of connections). A malformed request gets a 4xx and closes only its own connection.
//
// Handlers run on the connection's strand; they must not block (send blocking work to a pool).
// start() and stop() may be called from any thread; stop() closes the listener and every open
// connection, on their own contexts (it posts there). With `workers`, the pool's stop() stops
// the server too, and its drain runs what stop() posted, so that no context goes away holding
// an accept whose socket belongs to another one.

#include "core/error.hpp"
#include "http/message.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace orquestra::http {

using Handler = std::function<boost::asio::awaitable<void>(Request&, Response&)>;
// A handler that never waits: called directly, without a coroutine frame per request.
using SyncHandler = std::function<void(Request&, Response&)>;
class IoPool;

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;  // 0: any free port
    std::size_t max_body_bytes = 1 << 20;
    std::uint32_t max_header_bytes = 16 * 1024;
    std::chrono::milliseconds request_timeout{10'000};  // to receive a whole request
    std::chrono::milliseconds idle_timeout{60'000};     // between requests on a keep-alive conn
    std::size_t max_connections = 10'000;
    std::string server_name = "Orquestra";
};

struct ServerStats {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> bad_requests{0};
    std::atomic<std::uint64_t> connections{0};
    std::atomic<std::int64_t> open_connections{0};
};

class HttpServer {
public:
    // Connections run on `io` (on a strand each) or, when `workers` is given, on its contexts
    // in turn. The listener runs on `io`.
    HttpServer(boost::asio::io_context& io, ServerOptions options, Handler handler,
               IoPool* workers = nullptr);
    HttpServer(boost::asio::io_context& io, ServerOptions options, SyncHandler handler,
               IoPool* workers = nullptr);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and starts accepting. Returns the bound port (useful with port 0).
    Result<std::uint16_t> start();
    void stop();
    std::uint16_t port() const { return port_; }
    const ServerStats& stats() const;

private:
    struct State;
    std::shared_ptr<State> state_;
    std::uint16_t port_ = 0;
};

}  // namespace orquestra::http
