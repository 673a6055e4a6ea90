#pragma once
// IoPool: one io_context per thread, each run by exactly one thread, so a connection's
// handlers never need a strand and the contexts never contend on a shared queue. Servers
// accept on any context and hand each new connection to the next one in turn.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace orquestra::http {

class IoPool {
public:
    explicit IoPool(int threads);
    ~IoPool();
    IoPool(const IoPool&) = delete;
    IoPool& operator=(const IoPool&) = delete;

    // Starts one thread per context. The calling thread does not run any.
    void start();
    // Stops every context and joins the threads. Idempotent.
    void stop();
    boost::asio::io_context& next();
    boost::asio::io_context& first() { return *contexts_.front(); }
    std::size_t size() const { return contexts_.size(); }

private:
    using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    std::vector<Guard> guards_;
    std::vector<std::thread> threads_;
    std::atomic<std::size_t> next_{0};
};

}  // namespace orquestra::http
