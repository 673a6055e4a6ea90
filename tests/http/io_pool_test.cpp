// Tearing down a server and its pool while connections are still open, being accepted or
// sending a request must not touch a destroyed context: a listener on the first context accepts
// sockets that belong to the others, and a connection's coroutine holds its server's state.
// Meant to run under ASan as well, where a use-after-free fails the test.
#include "http/io_pool.hpp"
#include "http/server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
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

// A client thread that keeps connecting to `port` while a test stops the server: connections
// that only connect, that send half a request, that send a whole request and wait briefly for
// the answer, and keep-alive ones left open. Plain blocking sockets with a receive timeout, so
// the thread never waits on a server that went away.
class ClientStorm {
public:
    explicit ClientStorm(std::uint16_t port) : port_(port), thread_([this] { loop(); }) {}
    ~ClientStorm() {
        done_ = true;
        thread_.join();
        for (int fd : open_) ::close(fd);
    }
    ClientStorm(const ClientStorm&) = delete;
    ClientStorm& operator=(const ClientStorm&) = delete;

    // Blocks until the thread made at least `n` connection attempts.
    void wait_for_attempts(int n) const {
        while (attempts_.load() < n && !done_) std::this_thread::yield();
    }

private:
    void loop() {
        for (int i = 0; !done_; ++i) {
            int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0) continue;
            timeval tv{0, 20'000};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(port_);
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
            int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
            attempts_.fetch_add(1);
            if (rc != 0) {
                ::close(fd);
                std::this_thread::yield();
                continue;
            }
            static constexpr std::string_view kFull =
                "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
            static constexpr std::string_view kHalf = "POST / HTTP/1.1\r\nHost: x\r\nContent-Le";
            switch (i % 4) {
                case 0:  // connect only
                    break;
                case 1:  // half a request, left open
                    (void)::send(fd, kHalf.data(), kHalf.size(), MSG_NOSIGNAL);
                    break;
                case 2:  // a whole request, answer awaited briefly
                case 3: {  // the same, left open afterwards (keep-alive)
                    (void)::send(fd, kFull.data(), kFull.size(), MSG_NOSIGNAL);
                    char buf[256];
                    (void)::recv(fd, buf, sizeof buf, 0);
                    break;
                }
                default:
                    break;
            }
            if (i % 4 == 0 || i % 4 == 2) {
                ::close(fd);
            } else {
                open_.push_back(fd);
                if (open_.size() > 16) {
                    ::close(open_.front());
                    open_.pop_front();
                }
            }
        }
    }

    std::uint16_t port_;
    std::atomic<bool> done_{false};
    std::atomic<int> attempts_{0};
    std::deque<int> open_;
    std::thread thread_;
};

enum class StopOrder {
    kServerThenPool,  // the programs' order: server.stop(), pool.stop(), then destruction
    kPoolThenServer,  // pool.stop() first: the server's stop is posted to a stopped context
    kDestructorsOnly  // no stop() at all: the server's destructor, then the pool's
};

// Starts a server with several threads, lets clients at it (or not) and stops at once.
void start_and_stop(StopOrder order, bool with_clients, bool async_handler, int rounds) {
    for (int round = 0; round < rounds; ++round) {
        auto pool = std::make_unique<IoPool>(4);
        std::unique_ptr<HttpServer> server;
        if (async_handler) {
            // An answer that waits on a timer: a stop may find requests in their handler.
            server = std::make_unique<HttpServer>(
                pool->first(), ServerOptions{},
                Handler([](Request&, Response& res) -> boost::asio::awaitable<void> {
                    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
                    timer.expires_after(std::chrono::milliseconds(1));
                    co_await timer.async_wait(boost::asio::use_awaitable);
                    res.set(200, "text/plain", "ok");
                }),
                pool.get());
        } else {
            server = std::make_unique<HttpServer>(
                pool->first(), ServerOptions{},
                SyncHandler([](Request&, Response& res) { res.set(200, "text/plain", "ok"); }),
                pool.get());
        }
        auto port = server->start();
        ASSERT_TRUE(port);
        pool->start();
        std::unique_ptr<ClientStorm> clients;
        if (with_clients) {
            clients = std::make_unique<ClientStorm>(*port);
            clients->wait_for_attempts(1 + round % 8);
        }
        switch (order) {
            case StopOrder::kServerThenPool: {
                server->stop();
                pool->stop();
                // The drain finished every connection: none is left open, none waits.
                EXPECT_EQ(server->stats().open_connections.load(), 0) << "round " << round;
                server.reset();
                pool.reset();
                break;
            }
            case StopOrder::kPoolThenServer:
                pool->stop();
                server.reset();
                pool.reset();
                break;
            case StopOrder::kDestructorsOnly:
                server.reset();
                pool.reset();
                break;
        }
        clients.reset();
    }
}

TEST(IoPoolTest, StopRightAfterStart) {
    start_and_stop(StopOrder::kServerThenPool, false, false, 200);
    start_and_stop(StopOrder::kPoolThenServer, false, false, 200);
    start_and_stop(StopOrder::kDestructorsOnly, false, false, 200);
}

TEST(IoPoolTest, StopWhileClientsConnectAndSendRequests) {
    start_and_stop(StopOrder::kServerThenPool, true, false, 200);
    start_and_stop(StopOrder::kPoolThenServer, true, false, 200);
    start_and_stop(StopOrder::kDestructorsOnly, true, false, 200);
}

TEST(IoPoolTest, StopWhileRequestsWaitInTheirHandler) {
    start_and_stop(StopOrder::kServerThenPool, true, true, 200);
    start_and_stop(StopOrder::kDestructorsOnly, true, true, 100);
}

TEST(IoPoolTest, StopDrainsHandlersPostedAcrossContexts) {
    // A handler on one context posting to another, which posts back: all of them run before
    // stop() returns, though no thread runs the contexts any more.
    IoPool pool(3);
    pool.start();
    pool.stop();
    int ran = 0;
    auto& a = pool.next();
    auto& b = pool.next();
    boost::asio::post(a, [&] {
        ++ran;
        boost::asio::post(b, [&] {
            ++ran;
            boost::asio::post(a, [&] { ++ran; });
        });
    });
    pool.stop();
    EXPECT_EQ(ran, 3);
}

}  // namespace
}  // namespace orquestra::http
