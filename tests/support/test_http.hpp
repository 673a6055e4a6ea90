#pragma once
// Test helpers: run an io_context on background threads, and make blocking HTTP requests to
// 127.0.0.1 on a given port.

#include "http/client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace orquestra::testing {

class IoThreads {
public:
    explicit IoThreads(int n = 1);
    ~IoThreads();
    boost::asio::io_context& io() { return io_; }
    void stop();

private:
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::vector<std::thread> threads_;
};

struct Reply {
    int status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string header(std::string_view name) const;
};

// Fails the current test (and returns status 0) on a transport error.
Reply request(std::uint16_t port, std::string method, std::string target, std::string body = "",
              std::vector<std::pair<std::string, std::string>> headers = {});

// The same, but a transport error is no failure (status 0): for waiting until a server that
// is starting listens.
Reply try_request(std::uint16_t port, std::string method, std::string target,
                  std::string body = "",
                  std::vector<std::pair<std::string, std::string>> headers = {});

}  // namespace orquestra::testing
