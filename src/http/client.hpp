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

// The URL without the credentials it may carry ("http://user:pw@host/" -> "http://host/"),
// for messages.
std::string url_without_credentials(std::string_view url);

// Splits "http://host:port/path" into endpoint and target; kInvalidArgument otherwise.
Result<std::pair<Endpoint, std::string>> parse_http_url(std::string_view url);

}  // namespace orquestra::http
