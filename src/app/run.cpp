#include "app/run.hpp"

#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <thread>
#include <vector>

namespace orquestra::app {

namespace {

int thread_count(int requested) {
    if (requested > 0) return requested;
    return std::max(1u, std::thread::hardware_concurrency());
}

void run_threads(boost::asio::io_context& io, int n) {
    std::vector<std::thread> threads;
    for (int i = 1; i < n; ++i) threads.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : threads) t.join();
}

}  // namespace

int run_registry(RegistryCommandOptions options) {
    int threads = thread_count(options.threads);
    boost::asio::io_context io(threads);
    RegistryNode node(io, SystemClock::instance(), options.node);
    auto port = node.start();
    if (!port) {
        spdlog::error("{}", port.error().message);
        return 1;
    }
    spdlog::info("registry listening on http://{}:{}/ (Eureka API at /eureka/v2/ and /eureka/)",
                 options.node.http.host, *port);
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        spdlog::info("signal {}: stopping", sig);
        node.stop();
        io.stop();
    });
    run_threads(io, threads);
    return 0;
}

}  // namespace orquestra::app
