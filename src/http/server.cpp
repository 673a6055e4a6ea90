#include "http/server.hpp"

#include "http/io_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <list>
#include <mutex>

namespace orquestra::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

struct HttpServer::State {
    asio::io_context& io;
    ServerOptions options;
    Handler handler;
    SyncHandler sync_handler;
    IoPool* workers = nullptr;
    tcp::acceptor acceptor;
    ServerStats stats;
    std::atomic<bool> stopping{false};
    std::mutex mu;  // guards streams
    std::list<beast::tcp_stream*> streams;

    std::uint64_t stop_hook = 0;  // in workers, when given

    State(asio::io_context& ctx, ServerOptions opts, IoPool* pool)
        : io(ctx), options(std::move(opts)), workers(pool), acceptor(ctx) {}

    static void stop(const std::shared_ptr<State>& state);
    // Coroutines start later, on their executor: each takes the state it runs on as a parameter
    // (copied into its frame at once), so the state outlives the frame even if the server goes
    // away before the coroutine first runs.
    asio::awaitable<void> accept_loop(std::shared_ptr<State> self);
    asio::awaitable<void> session(std::shared_ptr<State> self, tcp::socket socket);
};

namespace {

void append_number(std::string& out, std::size_t n) {
    std::array<char, 24> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), n);
    (void)ec;
    out.append(buf.data(), end);
}

// Serializes the status line and headers. The body goes out as a second buffer.
std::string render_head(const Response& res, bool keep_alive, bool head_only,
                        const std::string& server_name) {
    std::string out;
    out.reserve(160 + res.headers.size() * 48);
    out += "HTTP/1.1 ";
    append_number(out, static_cast<std::size_t>(res.status));
    out += ' ';
    out += reason_phrase(res.status);
    out += "\r\nServer: ";
    out += server_name;
    if (!res.content_type.empty()) {
        out += "\r\nContent-Type: ";
        out += res.content_type;
    }
    out += "\r\nContent-Length: ";
    (void)head_only;
    append_number(out, res.payload_size());
    for (const auto& [name, value] : res.headers) {
        out += "\r\n";
        out += name;
        out += ": ";
        out += value;
    }
    if (!keep_alive) out += "\r\nConnection: close";
    out += "\r\n\r\n";
    return out;
}

Response error_response(int status, std::string_view reason) {
    Response res;
    res.set(status, "text/plain; charset=utf-8", std::string(reason) + "\n");
    return res;
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, ServerOptions options, Handler handler,
                       IoPool* workers)
    : state_(std::make_shared<State>(io, std::move(options), workers)) {
    state_->handler = std::move(handler);
    if (workers != nullptr) {
        state_->stop_hook = workers->add_stop_hook([state = state_] { State::stop(state); });
    }
}

HttpServer::HttpServer(asio::io_context& io, ServerOptions options, SyncHandler handler,
                       IoPool* workers)
    : state_(std::make_shared<State>(io, std::move(options), workers)) {
    state_->sync_handler = std::move(handler);
    if (workers != nullptr) {
        state_->stop_hook = workers->add_stop_hook([state = state_] { State::stop(state); });
    }
}

HttpServer::~HttpServer() {
    stop();
    if (state_->workers != nullptr) state_->workers->remove_stop_hook(state_->stop_hook);
}

const ServerStats& HttpServer::stats() const { return state_->stats; }

Result<std::uint16_t> HttpServer::start() {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(state_->options.host, ec);
    if (ec) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("bad listen address '{}': {}", state_->options.host, ec.message())};
    }
    tcp::endpoint endpoint(address, state_->options.port);
    auto& acceptor = state_->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return Error{ErrorCode::kUnavailable,
                     fmt::format("cannot listen on {}:{}: {}", state_->options.host,
                                 state_->options.port, ec.message())};
    }
    port_ = acceptor.local_endpoint().port();
    asio::co_spawn(acceptor.get_executor(), state_->accept_loop(state_), asio::detached);
    return port_;
}

void HttpServer::stop() { State::stop(state_); }

// The listener and the connections are closed on their own executors: this may be called from
// any thread, and the pool's drain runs what it posts once the threads are gone.
void HttpServer::State::stop(const std::shared_ptr<State>& state) {
    if (state->stopping.exchange(true)) return;
    asio::post(state->acceptor.get_executor(), [state] {
        boost::system::error_code ec;
        state->acceptor.close(ec);
        std::lock_guard lock(state->mu);
        for (auto* stream : state->streams) {
            // Cancel through the stream's own executor: streams live on their strands.
            asio::post(stream->get_executor(), [stream, state] {
                std::lock_guard inner(state->mu);
                for (auto* s : state->streams) {
                    if (s == stream) {
                        boost::system::error_code ignored;
                        s->socket().shutdown(tcp::socket::shutdown_both, ignored);
                        s->cancel();
                        break;
                    }
                }
            });
        }
    });
}

asio::awaitable<void> HttpServer::State::accept_loop(std::shared_ptr<State> self) {
    while (!stopping) {
        asio::any_io_executor target = workers != nullptr
                                           ? asio::any_io_executor(workers->next().get_executor())
                                           : asio::any_io_executor(asio::make_strand(io));
        auto [ec, socket] =
            co_await acceptor.async_accept(target, asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (stopping || ec == asio::error::operation_aborted) break;
            // Out of descriptors or a transient error: keep serving the others.
            spdlog::warn("accept failed: {}", ec.message());
            continue;
        }
        if (static_cast<std::size_t>(stats.open_connections.load()) >= options.max_connections) {
            boost::system::error_code ignored;
            socket.close(ignored);
            continue;
        }
        auto executor = socket.get_executor();
        asio::co_spawn(executor, session(self, std::move(socket)), asio::detached);
    }
}

asio::awaitable<void> HttpServer::State::session([[maybe_unused]] std::shared_ptr<State> self,
                                                  tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    boost::system::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    std::list<beast::tcp_stream*>::iterator registration;
    {
        std::lock_guard lock(mu);
        registration = streams.insert(streams.end(), &stream);
    }
    stats.connections.fetch_add(1, std::memory_order_relaxed);
    stats.open_connections.fetch_add(1, std::memory_order_relaxed);
    // The peer's address, once per connection: handlers use it (e.g. to slow down failed
    // logins per source address).
    std::string remote_address;
    {
        boost::system::error_code peer_ec;
        auto peer = stream.socket().remote_endpoint(peer_ec);
        if (!peer_ec) {
            auto address = peer.address();
            if (address.is_v6() && address.to_v6().is_v4_mapped()) {
                address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
            }
            remote_address = address.to_string();
        }
    }

    beast::flat_buffer buffer;  // bounded by the parser's header and body limits
    bool first = true;
    while (!stopping) {
        beast_http::request_parser<beast_http::string_body> parser;
        parser.header_limit(options.max_header_bytes);
        parser.body_limit(options.max_body_bytes);
        // The idle timer covers waiting for a request; once bytes arrive the whole request must
        // come within request_timeout (a slow sender cannot hold the connection forever).
        if (buffer.size() == 0 && !first) {
            stream.expires_after(options.idle_timeout);
            auto [wait_ec, got] = co_await stream.async_read_some(
                buffer.prepare(8192), asio::as_tuple(asio::use_awaitable));
            if (wait_ec) break;
            buffer.commit(got);
        }
        stream.expires_after(options.request_timeout);
        first = false;
        auto [ec, n] = co_await beast_http::async_read(stream, buffer, parser,
                                                       asio::as_tuple(asio::use_awaitable));
        (void)n;
        if (ec) {
            if (ec == beast_http::error::end_of_stream || ec == asio::error::operation_aborted ||
                ec == beast::error::timeout || ec == asio::error::connection_reset ||
                ec == asio::error::eof) {
                break;
            }
            stats.bad_requests.fetch_add(1, std::memory_order_relaxed);
            Response res = ec == beast_http::error::body_limit
                               ? error_response(413, "request body too large")
                           : ec == beast_http::error::header_limit
                               ? error_response(431, "request header too large")
                               : error_response(400, "malformed request: " + ec.message());
            std::string head = render_head(res, false, false, options.server_name);
            std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(res.body)};
            stream.expires_after(options.request_timeout);
            co_await asio::async_write(stream, out, asio::as_tuple(asio::use_awaitable));
            // Lingering close: let a client still sending its (rejected) body finish, so it
            // reads our answer instead of a reset. Bounded in bytes and time.
            stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
            stream.expires_after(std::chrono::milliseconds(1000));
            std::size_t drained = 0;
            std::array<char, 16384> sink{};
            while (drained < 8 * options.max_body_bytes) {
                auto [drain_ec, got] = co_await stream.async_read_some(
                    asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
                if (drain_ec) break;
                drained += got;
            }
            break;
        }
        stats.requests.fetch_add(1, std::memory_order_relaxed);
        Request req(parser.release());
        req.set_remote_address(remote_address);
        bool keep_alive = req.keep_alive();
        bool head_only = req.method() == beast_http::verb::head;
        Response res;
        try {
            if (sync_handler) {
                sync_handler(req, res);
            } else {
                co_await handler(req, res);
            }
        } catch (const std::exception& e) {
            spdlog::error("handler failed on {} {}: {}", req.method_string(), req.target(),
                          e.what());
            res = error_response(500, "internal error");
        }
        std::string head = render_head(res, keep_alive, head_only, options.server_name);
        std::vector<asio::const_buffer> out;
        out.reserve(1 + (head_only ? 0 : std::max<std::size_t>(1, res.parts.size())));
        out.push_back(asio::buffer(head));
        if (!head_only) {
            if (res.parts.empty()) {
                out.push_back(asio::buffer(res.body));
            } else {
                for (const auto& part : res.parts) out.push_back(asio::buffer(*part));
            }
        }
        stream.expires_after(std::max(options.request_timeout,
                                      std::chrono::milliseconds(60'000)));
        auto [write_ec, written] =
            co_await asio::async_write(stream, out, asio::as_tuple(asio::use_awaitable));
        (void)written;
        if (write_ec || !keep_alive) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
    {
        std::lock_guard lock(mu);
        streams.erase(registration);
    }
    stats.open_connections.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace orquestra::http
