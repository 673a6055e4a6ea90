#include "http/io_pool.hpp"

#include <spdlog/spdlog.h>

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
    // Handlers posted since stop() (a server stopped by its destructor) run before any context
    // goes away; only then is it safe to destroy them.
    stop();
    // After a drain that ran out of time, whatever is left is dropped with its context; the
    // first context goes last, since a connection's state may own a listener that lives there.
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
    std::vector<std::function<void()>> hooks;
    {
        std::lock_guard lock(hooks_mu_);
        for (const auto& [id, hook] : hooks_) hooks.push_back(hook);
    }
    for (auto& hook : hooks) hook();
    drain();
}

std::uint64_t IoPool::add_stop_hook(std::function<void()> hook) {
    std::lock_guard lock(hooks_mu_);
    hooks_.emplace(++next_hook_, std::move(hook));
    return next_hook_;
}

void IoPool::remove_stop_hook(std::uint64_t id) {
    std::lock_guard lock(hooks_mu_);
    hooks_.erase(id);
}

void IoPool::drain() {
    // No thread runs the contexts any more, so this one may. A handler on one context may post
    // to another (a listener's stop cancels connections elsewhere), hence whole rounds until a
    // round runs nothing. poll() leaves a context stopped once it has no outstanding work.
    // Only the time spent waiting for operations in flight counts against kDrainLimit, so a
    // busy machine does not cut a drain short; the overall cap stops handlers that keep
    // posting themselves.
    using Clock = std::chrono::steady_clock;
    const auto cap = Clock::now() + 10 * kDrainLimit;
    Clock::duration waited{};
    for (;;) {
        std::size_t ran = 0;
        bool idle = true;
        for (auto& ctx : contexts_) {
            ctx->restart();
            ran += ctx->poll();
            idle = idle && ctx->stopped();
        }
        // A round that ran nothing with every context out of work: nothing can post any more.
        if (ran == 0 && idle) break;
        if (waited >= kDrainLimit || Clock::now() >= cap) {
            spdlog::debug("event loops stopped with operations still in flight");
            break;
        }
        if (ran > 0) continue;
        // Something is in flight (an answer, a timer): wait for it a little on the first busy
        // context instead of spinning.
        for (auto& ctx : contexts_) {
            if (!ctx->stopped()) {
                const auto before = Clock::now();
                ctx->restart();
                ctx->run_one_for(std::chrono::milliseconds(1));
                waited += Clock::now() - before;
                break;
            }
        }
    }
    for (auto& ctx : contexts_) ctx->stop();
}

boost::asio::io_context& IoPool::next() {
    return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

}  // namespace orquestra::http
