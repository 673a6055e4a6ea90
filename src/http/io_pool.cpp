#include "http/io_pool.hpp"

#include <algorithm>

namespace orquestra::http {

IoPool::IoPool(int threads) {
    int n = std::max(1, threads);
    for (int i = 0; i < n; ++i) {
        contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
        guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
    }
}

IoPool::~IoPool() {
    stop();
    // Last context first: handlers still queued on a context may own a server whose listener
    // lives on first() (a connection's coroutine keeps its server's state alive), so first()
    // must outlive the others' pending handlers.
    while (!contexts_.empty()) contexts_.pop_back();
}

void IoPool::start() {
    for (auto& ctx : contexts_) {
        threads_.emplace_back([io = ctx.get()] { io->run(); });
    }
}

void IoPool::stop() {
    guards_.clear();
    for (auto& ctx : contexts_) ctx->stop();
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
    threads_.clear();
}

boost::asio::io_context& IoPool::next() {
    return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

}  // namespace orquestra::http
