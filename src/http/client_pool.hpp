#pragma once
// ClientPool: HTTP/1.1 requests over kept-alive connections. Idle connections are kept per
// event loop and endpoint (a connection is only ever used on the loop that opened it), at most
// `max_idle_per_endpoint` of them, for at most `idle_timeout`. A request that fails on a reused
// connection before any byte of the answer arrived (the server had closed it) is sent once more
// on a new connection. Thread-safe.

#include "http/client.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

namespace orquestra::http {

class ClientPool {
public:
    explicit ClientPool(std::size_t max_idle_per_endpoint = 64,
                        std::chrono::milliseconds idle_timeout = std::chrono::milliseconds(20'000));
    ~ClientPool();

    boost::asio::awaitable<Result<ClientResponse>> fetch(Endpoint endpoint, ClientRequest request,
                                                         std::chrono::milliseconds timeout,
                                                         std::size_t max_body = 64u << 20);

private:
    struct Connection;
    using Key = std::tuple<const void*, std::string, std::uint16_t>;
    std::unique_ptr<Connection> take(const Key& key);
    void give_back(const Key& key, std::unique_ptr<Connection> conn);

    std::size_t max_idle_;
    std::chrono::milliseconds idle_timeout_;
    std::mutex mu_;
    std::map<Key, std::vector<std::unique_ptr<Connection>>> idle_;
};

}  // namespace orquestra::http
