#pragma once
// A small HTTP/1.1 client: one request per call on a new connection, with a deadline covering
// connect, send and receive, and a limit on the response size. async_fetch() runs on the
// caller's executor; fetch() blocks the calling thread (CLI, tests, never an event loop).

#include "core/error.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orquestra::http {

struct ClientRequest {
    std::string method = "GET";
    std::string target = "/";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool keep_alive = false;
};

struct ClientResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string_view header(std::string_view name) const;
};

struct Endpoint {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
};

boost::asio::awaitable<Result<ClientResponse>> async_fetch(
    Endpoint endpoint, ClientRequest request,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000),
    std::size_t max_body = 64u << 20);

Result<ClientResponse> fetch(const Endpoint& endpoint, ClientRequest request,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000),
                             std::size_t max_body = 64u << 20);

// A target in origin form: '/' then RFC 3986 path and query characters with valid %XX escapes
// (no spaces, control characters, '#' or non-ASCII bytes). kInvalidArgument naming the byte.
// For targets built from values (task paths).
Result<void> check_request_target(std::string_view target);
// What a request puts on the wire, checked before anything is sent (every fetch does): the
// method and header names tokens; the target, header values and host without spaces (but TAB
// in header values) or control characters. kInvalidArgument naming the problem, so a CR or LF
// never reaches a server.
Result<void> check_request(const Endpoint& endpoint, const ClientRequest& request);
// The URL without the credentials it may carry ("http://user:pw@host/" -> "http://host/"),
// for messages.
std::string url_without_credentials(std::string_view url);

// Splits "http://host:port/path" into endpoint and target; kInvalidArgument otherwise.
Result<std::pair<Endpoint, std::string>> parse_http_url(std::string_view url);

}  // namespace orquestra::http
