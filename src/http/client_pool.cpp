#include "http/client_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace orquestra::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

struct ClientPool::Connection {
    explicit Connection(asio::any_io_executor ex) : stream(std::move(ex)) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    std::chrono::steady_clock::time_point idle_since;
};

ClientPool::ClientPool(std::size_t max_idle_per_endpoint, std::chrono::milliseconds idle_timeout)
    : max_idle_(max_idle_per_endpoint), idle_timeout_(idle_timeout) {}

ClientPool::~ClientPool() = default;

std::unique_ptr<ClientPool::Connection> ClientPool::take(const Key& key) {
    std::lock_guard lock(mu_);
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto now = std::chrono::steady_clock::now();
    while (!it->second.empty()) {
        auto conn = std::move(it->second.back());
        it->second.pop_back();
        if (now - conn->idle_since < idle_timeout_) return conn;
    }
    return nullptr;
}

void ClientPool::give_back(const Key& key, std::unique_ptr<Connection> conn) {
    conn->idle_since = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    auto& list = idle_[key];
    if (list.size() < max_idle_) list.push_back(std::move(conn));
}

asio::awaitable<Result<ClientResponse>> ClientPool::fetch(Endpoint endpoint, ClientRequest request,
                                                          std::chrono::milliseconds timeout,
                                                          std::size_t max_body) {
    auto executor = co_await asio::this_coro::executor;
    if (auto ok = check_request(endpoint, request); !ok) co_return ok.error();
    auto verb = bhttp::string_to_verb(request.method);
    if (verb == bhttp::verb::unknown) {
        co_return Error{ErrorCode::kInvalidArgument, "unknown HTTP method " + request.method};
    }
    // Connections belong to the event loop that opened them.
    Key key{&asio::query(executor, asio::execution::context), endpoint.host, endpoint.port};
    bhttp::request<bhttp::string_body> req;
    req.method(verb);
    req.target(request.target);
    req.version(11);
    req.set(bhttp::field::host, fmt::format("{}:{}", endpoint.host, endpoint.port));
    try {
        for (const auto& [k, v] : request.headers) req.set(k, v);
    } catch (const std::exception& e) {
        co_return Error{ErrorCode::kInvalidArgument, std::string("bad request header: ") + e.what()};
    }
    req.keep_alive(max_idle_ > 0 || request.keep_alive);
    req.body() = std::move(request.body);
    req.prepare_payload();
    auto deadline = std::chrono::steady_clock::now() + timeout;

    for (int attempt = 0; attempt < 2; ++attempt) {
        auto conn = take(key);
        bool reused = conn != nullptr;
        if (!conn) {
            conn = std::make_unique<Connection>(executor);
            tcp::endpoint ep;
            boost::system::error_code aec;
            auto address = asio::ip::make_address(endpoint.host, aec);
            if (aec) {
                tcp::resolver resolver(executor);
                auto [rec, results] = co_await resolver.async_resolve(
                    endpoint.host, std::to_string(endpoint.port), asio::as_tuple(asio::use_awaitable));
                if (rec || results.empty()) {
                    co_return Error{ErrorCode::kUnavailable,
                                    fmt::format("cannot resolve {}", endpoint.host)};
                }
                ep = results.begin()->endpoint();
            } else {
                ep = tcp::endpoint(address, endpoint.port);
            }
            conn->stream.expires_at(deadline);
            auto [cec] = co_await conn->stream.async_connect(ep, asio::as_tuple(asio::use_awaitable));
            if (cec) {
                co_return Error{cec == beast::error::timeout ? ErrorCode::kTimeout
                                                             : ErrorCode::kUnavailable,
                                fmt::format("connect to {}:{} failed: {}", endpoint.host,
                                            endpoint.port, cec.message())};
            }
            boost::system::error_code ignored;
            conn->stream.socket().set_option(tcp::no_delay(true), ignored);
        }
        conn->stream.expires_at(deadline);
        auto [wec, wn] = co_await bhttp::async_write(conn->stream, req,
                                                     asio::as_tuple(asio::use_awaitable));
        (void)wn;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(max_body);
        if (request.method == "HEAD") parser.skip(true);
        boost::system::error_code rec;
        if (!wec) {
            auto [r, rn] = co_await bhttp::async_read(conn->stream, conn->buffer, parser,
                                                      asio::as_tuple(asio::use_awaitable));
            (void)rn;
            rec = r;
        }
        auto ec = wec ? wec : rec;
        if (ec) {
            bool stale = reused && !parser.got_some() && ec != beast::error::timeout;
            if (stale) continue;  // the server closed the idle connection: once more, fresh
            co_return Error{ec == beast::error::timeout ? ErrorCode::kTimeout
                                                        : ErrorCode::kUnavailable,
                            fmt::format("{}:{}: {}", endpoint.host, endpoint.port, ec.message())};
        }
        auto msg = parser.release();
        ClientResponse out;
        out.status = static_cast<int>(msg.result_int());
        for (const auto& field : msg) {
            out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        }
        out.body = std::move(msg.body());
        if (msg.keep_alive()) {
            conn->stream.expires_never();
            give_back(key, std::move(conn));
        }
        co_return out;
    }
    co_return Error{ErrorCode::kUnavailable,
                    fmt::format("{}:{}: connection closed", endpoint.host, endpoint.port)};
}

}  // namespace orquestra::http
