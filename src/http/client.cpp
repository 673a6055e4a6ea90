#include "http/client.hpp"

#include "core/strings.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace orquestra::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

std::string_view ClientResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) return v;
    }
    return {};
}

asio::awaitable<Result<ClientResponse>> async_fetch(Endpoint endpoint, ClientRequest request,
                                                    std::chrono::milliseconds timeout,
                                                    std::size_t max_body) {
    auto executor = co_await asio::this_coro::executor;
    tcp::resolver resolver(executor);
    auto [rec, results] = co_await resolver.async_resolve(
        endpoint.host, std::to_string(endpoint.port), asio::as_tuple(asio::use_awaitable));
    if (rec) {
        co_return Error{ErrorCode::kUnavailable,
                        fmt::format("cannot resolve {}: {}", endpoint.host, rec.message())};
    }
    beast::tcp_stream stream(executor);
    stream.expires_after(timeout);
    auto [cec, ep] = co_await stream.async_connect(results, asio::as_tuple(asio::use_awaitable));
    (void)ep;
    if (cec) {
        co_return Error{cec == beast::error::timeout ? ErrorCode::kTimeout : ErrorCode::kUnavailable,
                        fmt::format("connect to {}:{} failed: {}", endpoint.host, endpoint.port,
                                    cec.message())};
    }
    bhttp::request<bhttp::string_body> req;
    auto verb = bhttp::string_to_verb(request.method);
    if (verb == bhttp::verb::unknown) {
        co_return Error{ErrorCode::kInvalidArgument, "unknown HTTP method " + request.method};
    }
    req.method(verb);
    req.target(request.target);
    req.version(11);
    req.set(bhttp::field::host, fmt::format("{}:{}", endpoint.host, endpoint.port));
    try {
        for (const auto& [k, v] : request.headers) req.set(k, v);
    } catch (const std::exception& e) {
        co_return Error{ErrorCode::kInvalidArgument, std::string("bad request header: ") + e.what()};
    }
    req.keep_alive(request.keep_alive);
    req.body() = std::move(request.body);
    req.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
    (void)wn;
    if (wec) {
        co_return Error{wec == beast::error::timeout ? ErrorCode::kTimeout : ErrorCode::kUnavailable,
                        fmt::format("send to {}:{} failed: {}", endpoint.host, endpoint.port,
                                    wec.message())};
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_body);
    if (request.method == "HEAD") parser.skip(true);
    auto [rdec, rn] = co_await bhttp::async_read(stream, buffer, parser,
                                                 asio::as_tuple(asio::use_awaitable));
    (void)rn;
    if (rdec) {
        co_return Error{rdec == beast::error::timeout ? ErrorCode::kTimeout
                                                      : ErrorCode::kUnavailable,
                        fmt::format("reading from {}:{} failed: {}", endpoint.host, endpoint.port,
                                    rdec.message())};
    }
    auto msg = parser.release();
    ClientResponse out;
    out.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
        out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(msg.body());
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return out;
}

Result<ClientResponse> fetch(const Endpoint& endpoint, ClientRequest request,
                             std::chrono::milliseconds timeout, std::size_t max_body) {
    asio::io_context io;
    auto future = asio::co_spawn(io, async_fetch(endpoint, std::move(request), timeout, max_body),
                                 asio::use_future);
    io.run();
    return future.get();
}

Result<std::pair<Endpoint, std::string>> parse_http_url(std::string_view url) {
    constexpr std::string_view kScheme = "http://";
    if (url.substr(0, kScheme.size()) != kScheme) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("'{}' is not an http:// URL", url)};
    }
    std::string_view rest = url.substr(kScheme.size());
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    auto at = authority.rfind('@');
    if (at != std::string_view::npos) authority = authority.substr(at + 1);
    Endpoint ep;
    auto colon = authority.rfind(':');
    if (colon == std::string_view::npos) {
        ep.host = std::string(authority);
        ep.port = 80;
    } else {
        ep.host = std::string(authority.substr(0, colon));
        auto port = parse_int(authority.substr(colon + 1));
        if (!port || *port <= 0 || *port > 65535) {
            return Error{ErrorCode::kInvalidArgument, fmt::format("bad port in '{}'", url)};
        }
        ep.port = static_cast<std::uint16_t>(*port);
    }
    if (ep.host.empty()) {
        return Error{ErrorCode::kInvalidArgument, fmt::format("no host in '{}'", url)};
    }
    return std::make_pair(ep, target);
}

}  // namespace orquestra::http
