#include "http/client.hpp"

#include "http/client_pool.hpp"

#include "core/strings.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>

namespace orquestra::http {

namespace asio = boost::asio;

std::string_view ClientResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) return v;
    }
    return {};
}

asio::awaitable<Result<ClientResponse>> async_fetch(Endpoint endpoint, ClientRequest request,
                                                    std::chrono::milliseconds timeout,
                                                    std::size_t max_body) {
    // A pool that keeps nothing: one connection, closed after the answer.
    ClientPool one_shot(0);
    co_return co_await one_shot.fetch(std::move(endpoint), std::move(request), timeout, max_body);
}

Result<ClientResponse> fetch(const Endpoint& endpoint, ClientRequest request,
                             std::chrono::milliseconds timeout, std::size_t max_body) {
    asio::io_context io;
    auto future = asio::co_spawn(io, async_fetch(endpoint, std::move(request), timeout, max_body),
                                 asio::use_future);
    io.run();
    return future.get();
}

std::string url_without_credentials(std::string_view url) {
    const auto scheme_end = url.find("://");
    const std::size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    const auto authority_end = url.find('/', start);
    const auto at = url.substr(0, authority_end).rfind('@');
    if (at == std::string_view::npos || at < start) return std::string(url);
    return std::string(url.substr(0, start)) + std::string(url.substr(at + 1));
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
