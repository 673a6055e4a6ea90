// What HttpServer tells handlers about the connection a request came on.
#include "http/server.hpp"

#include <gtest/gtest.h>

#include <string>

#include "http/client.hpp"
#include "http/io_pool.hpp"

namespace orquestra::http {
namespace {

TEST(HttpServerTest, HandlersSeeThePeersAddress) {
    IoPool pool(1);
    HttpServer server(pool.first(), ServerOptions{}, SyncHandler([](Request& req, Response& res) {
                          res.set(200, "text/plain", std::string(req.remote_address()));
                      }),
                      &pool);
    auto port = server.start();
    ASSERT_TRUE(port) << port.error().message;
    pool.start();
    for (int i = 0; i < 2; ++i) {  // a new connection each time, the same answer
        auto res = fetch(Endpoint{"127.0.0.1", *port}, ClientRequest{});
        ASSERT_TRUE(res) << res.error().message;
        EXPECT_EQ(res->status, 200);
        EXPECT_EQ(res->body, "127.0.0.1");
    }
    server.stop();
    pool.stop();
}

TEST(HttpServerTest, ARequestNotReadFromASocketHasNoAddress) {
    Request req;
    EXPECT_TRUE(req.remote_address().empty());
}

}  // namespace
}  // namespace orquestra::http
