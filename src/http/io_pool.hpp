#pragma once
// IoPool: one io_context per thread, each run by exactly one thread, so a connection's
// handlers never need a strand and the contexts never contend on a shared queue. Servers
// accept on any context and hand each new connection to the next one in turn.
//
// Work crosses contexts (a listener on one context accepts sockets that belong to another, and
// a server's stop cancels connections on the others), so no context may be destroyed while
// another still holds an operation that refers to it. stop() therefore drains: after the
// threads are joined it runs every context on the calling thread until nothing is left to run,
// and the destructor does the same before destroying any context. Servers whose connections
// run on the pool register a stop hook, so stop() closes their listeners first (a listener
// waiting for connections would otherwise never let its context run out of work).
//
// start(), stop() and the destructor are called by the owner's thread; next(), first() and the
// hooks' registration from any thread.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
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
    // Stops every context, joins the threads, calls the stop hooks, then drains the contexts on
    // the calling thread: handlers already posted run (a server's stop closes its listener and
    // cancels its connections, which then finish), and operations still in flight get up to
    // `kDrainLimit` to complete. Idempotent; the contexts stay stopped afterwards.
    void stop();

    // `hook` is called by stop() once the threads are joined, before the drain; it may post to
    // the pool's contexts. Returns an id for remove_stop_hook(), which must be called before
    // whatever the hook refers to goes away.
    std::uint64_t add_stop_hook(std::function<void()> hook);
    void remove_stop_hook(std::uint64_t id);
    boost::asio::io_context& next();
    boost::asio::io_context& first() { return *contexts_.front(); }
    std::size_t size() const { return contexts_.size(); }

    // How long in all a drain waits for operations that neither completed nor were cancelled
    // (an outgoing request still waiting for its answer, say) before the contexts are
    // destroyed with them.
    static constexpr std::chrono::milliseconds kDrainLimit{1000};

private:
    void drain();

    using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    std::vector<Guard> guards_;
    std::vector<std::thread> threads_;
    std::atomic<std::size_t> next_{0};
    std::mutex hooks_mu_;
    std::map<std::uint64_t, std::function<void()>> hooks_;
    std::uint64_t next_hook_ = 0;
};

}  // namespace orquestra::http
