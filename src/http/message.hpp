#pragma once
// Request and response as handlers see them. The request wraps Beast's parsed message; the
// response is a plain struct the server serializes itself, so that a cached body can be shared
// between many responses without copying it.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orquestra::http {

namespace beast_http = boost::beast::http;

class Request {
public:
    Request() = default;
    explicit Request(beast_http::request<beast_http::string_body> msg);

    beast_http::verb method() const { return msg_.method(); }
    std::string_view method_string() const { return msg_.method_string(); }
    std::string_view target() const { return msg_.target(); }
    // The target before '?', still percent-encoded.
    std::string_view path() const { return path_; }
    // The raw query string after '?', without it.
    std::string_view query() const { return query_; }
    // First value of a query parameter, percent-decoded; nullopt when absent.
    std::optional<std::string> query_param(std::string_view name) const;
    // Every query parameter, decoded, in order.
    std::vector<std::pair<std::string, std::string>> query_params() const;
    std::string_view header(std::string_view name) const;
    std::string_view header(beast_http::field f) const;
    const std::string& body() const { return msg_.body(); }
    bool keep_alive() const { return msg_.keep_alive(); }
    const beast_http::request<beast_http::string_body>& message() const { return msg_; }
    // The peer's IP address as text ("127.0.0.1", "::1"; an IPv4-mapped IPv6 address is given
    // in its IPv4 form); empty when unknown (a request not read from a socket).
    std::string_view remote_address() const { return remote_address_; }
    void set_remote_address(std::string address) { remote_address_ = std::move(address); }

private:
    beast_http::request<beast_http::string_body> msg_;
    std::string_view path_;
    std::string_view query_;
    std::string remote_address_;
};

struct Response {
    int status = 200;
    std::string content_type;  // empty: no Content-Type header
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // When not empty, the body is these shared, immutable pieces in order (cached documents
    // assembled without copying); `body` is then ignored.
    std::vector<std::shared_ptr<const std::string>> parts;

    void set(int code, std::string type, std::string text) {
        status = code;
        content_type = std::move(type);
        body = std::move(text);
    }
    void add_header(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
    }
    std::size_t payload_size() const {
        if (parts.empty()) return body.size();
        std::size_t n = 0;
        for (const auto& p : parts) n += p->size();
        return n;
    }
};

std::string_view reason_phrase(int status);

// The media type of a Content-Type value, lower-cased, without parameters or spaces
// ("Application/JSON; charset=utf-8" -> "application/json"); empty for an empty value.
std::string media_type(std::string_view content_type);

// Splits "Basic base64(user:pass)"; nullopt when the header is absent or not Basic.
std::optional<std::pair<std::string, std::string>> parse_basic_auth(std::string_view header);

}  // namespace orquestra::http
