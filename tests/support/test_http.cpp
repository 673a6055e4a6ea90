#include "test_http.hpp"

#include "core/strings.hpp"

#include <gtest/gtest.h>

namespace orquestra::testing {

IoThreads::IoThreads(int n) : io_(n), guard_(boost::asio::make_work_guard(io_)) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
}

IoThreads::~IoThreads() { stop(); }

void IoThreads::stop() {
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
}

std::string Reply::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) return v;
    }
    return {};
}

namespace {

Result<http::ClientResponse> send(std::uint16_t port, std::string method, std::string target,
                                  std::string body,
                                  std::vector<std::pair<std::string, std::string>> headers) {
    http::ClientRequest req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.headers = std::move(headers);
    return http::fetch(http::Endpoint{"127.0.0.1", port}, std::move(req),
                       std::chrono::milliseconds(10'000));
}

}  // namespace

Reply try_request(std::uint16_t port, std::string method, std::string target, std::string body,
                  std::vector<std::pair<std::string, std::string>> headers) {
    auto res = send(port, std::move(method), std::move(target), std::move(body),
                    std::move(headers));
    if (!res) return {};
    return Reply{res->status, std::move(res->body), std::move(res->headers)};
}

Reply request(std::uint16_t port, std::string method, std::string target, std::string body,
              std::vector<std::pair<std::string, std::string>> headers) {
    http::ClientRequest req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.headers = std::move(headers);
    auto res = http::fetch(http::Endpoint{"127.0.0.1", port}, std::move(req),
                           std::chrono::milliseconds(10'000));
    if (!res) {
        ADD_FAILURE() << "HTTP request failed: " << res.error().message;
        return {};
    }
    return Reply{res->status, std::move(res->body), std::move(res->headers)};
}

}  // namespace orquestra::testing
