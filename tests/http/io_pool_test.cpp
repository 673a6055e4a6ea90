// Tearing down a server and its pool while connections are still open must not touch a
// destroyed context (a connection's coroutine holds its server's state, whose listener lives on
// the pool's first context).
#include "http/io_pool.hpp"
#include "http/server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace orquestra::http {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

TEST(IoPoolTest, PoolAndServerGoAwayWithConnectionsStillOpen) {
    for (int round = 0; round < 20; ++round) {
        auto pool = std::make_unique<IoPool>(3);
        auto server = std::make_unique<HttpServer>(
            pool->first(), ServerOptions{},
            SyncHandler([](Request&, Response& res) { res.set(200, "text/plain", "ok"); }),
            pool.get());
        auto port = server->start();
        ASSERT_TRUE(port);
        pool->start();
        // Keep-alive connections, one answered request each, spread over every context.
        asio::io_context client_io;
        std::vector<tcp::socket> clients;
        for (int i = 0; i < 6; ++i) {
            tcp::socket s(client_io);
            s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), *port));
            asio::write(s, asio::buffer(std::string(
                               "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")));
            asio::streambuf reply;
            asio::read_until(s, reply, "ok");
            clients.push_back(std::move(s));
        }
        // The order the programs use: threads stopped first, then the server, then the pool.
        pool->stop();
        server.reset();
        pool.reset();  // under ASan, a use-after-free here fails the test
    }
}

}  // namespace
}  // namespace orquestra::http
