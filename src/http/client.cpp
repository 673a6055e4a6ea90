#include "http/client.hpp"

#include "http/client_pool.hpp"

#include "core/strings.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace orquestra::http {

namespace asio = boost::asio;

std::string_view ClientResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) return v;
    }
    return {};
}

namespace {

bool is_tchar(char c) {
    constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kSpecials.find(c) != std::string_view::npos;
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 pchar without '%' (checked apart), plus '/' and '?'.
bool is_target_char(char c) {
    constexpr std::string_view kOther = "-._~!$&'()*+,;=:@/?";
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kOther.find(c) != std::string_view::npos;
}

// A byte as shown in messages: printable ASCII as itself, anything else as \xNN.
std::string show_byte(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u > 0x20 && u < 0x7f) return fmt::format("'{}'", c);
    return fmt::format("\\x{:02x}", u);
}

Error invalid(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

}  // namespace

Result<void> check_request_target(std::string_view target) {
    if (target.empty() || target.front() != '/') {
        return invalid("the request target must start with '/'");
    }
    for (std::size_t i = 0; i < target.size(); ++i) {
        char c = target[i];
        if (c == '%') {
            if (i + 2 >= target.size() || !is_hex(target[i + 1]) || !is_hex(target[i + 2])) {
                return invalid(fmt::format("bad percent escape at offset {} of the request target", i));
            }
            i += 2;
        } else if (!is_target_char(c)) {
            return invalid(fmt::format("the request target has {} at offset {}; values must be "
                                       "percent-encoded",
                                       show_byte(c), i));
        }
    }
    return {};
}

Result<void> check_request(const Endpoint& endpoint, const ClientRequest& request) {
    if (request.method.empty() || !std::all_of(request.method.begin(), request.method.end(), is_tchar)) {
        return invalid("bad HTTP method");
    }
    if (endpoint.host.empty() ||
        std::any_of(endpoint.host.begin(), endpoint.host.end(), [](char c) {
            auto u = static_cast<unsigned char>(c);
            return u <= 0x20 || u == 0x7f;
        })) {
        return invalid("bad host name");
    }
    // Only what would break the request line is refused here; check_request_target() is the
    // stricter check for targets built from values.
    if (request.target.empty()) return invalid("empty request target");
    for (char c : request.target) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            return invalid(fmt::format("the request target has {}; values must be percent-encoded",
                                       show_byte(c)));
        }
    }
    for (const auto& [name, value] : request.headers) {
        if (name.empty() || !std::all_of(name.begin(), name.end(), is_tchar)) {
            return invalid("bad header name");
        }
        for (char c : value) {
            auto u = static_cast<unsigned char>(c);
            if ((u < 0x20 && c != '\t') || u == 0x7f) {
                return invalid(fmt::format("header {} has the control character {}", name,
                                           show_byte(c)));
            }
        }
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
