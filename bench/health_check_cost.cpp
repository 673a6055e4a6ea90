// The cost of active health checks (not a test): N instances (default 10,000) registered in an
// in-process InstanceRegistry, each with a healthCheckUrl on one local HTTP server (a separate
// process, so its work is not counted), probed by a HealthChecker every INTERVAL seconds for
// ROUNDS rounds. Prints the CPU time of the checker's event-loop thread, the process's RSS
// before and after, and probes per second.
// Usage: health_check_cost [N] [INTERVAL_SECONDS] [ROUNDS]
#include "http/server.hpp"
#include "registry/health_checker.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace {

using namespace orquestra;

long rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return 0;
}

double thread_cpu_seconds(pthread_t thread) {
    clockid_t id;
    if (pthread_getcpuclockid(thread, &id) != 0) return 0;
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The health endpoint, in a child process: answers 200 to everything.
pid_t start_server(std::uint16_t& port) {
    int fds[2];
    if (::pipe(fds) != 0) return -1;
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        boost::asio::io_context io(1);
        http::ServerOptions options;
        options.max_connections = 100'000;
        http::HttpServer server(io, options, http::SyncHandler([](http::Request&, http::Response& res) {
            res.set(200, "text/plain", "ok");
        }));
        auto bound = server.start();
        std::uint16_t p = bound ? *bound : 0;
        (void)!::write(fds[1], &p, sizeof p);
        ::close(fds[1]);
        io.run();
        ::_exit(0);
    }
    ::close(fds[1]);
    (void)!::read(fds[0], &port, sizeof port);
    ::close(fds[0]);
    return pid;
}

}  // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 10'000;
    const double interval_s = argc > 2 ? std::atof(argv[2]) : 10.0;
    const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
    std::uint16_t port = 0;
    const pid_t server = start_server(port);
    if (server < 0 || port == 0) {
        std::fprintf(stderr, "cannot start the health endpoint\n");
        return 1;
    }
    registry::InstanceRegistry reg(SystemClock::instance());
    for (int i = 0; i < n; ++i) {
        registry::InstanceInfo info;
        info.instance_id = fmt::format("i{}", i);
        info.app = fmt::format("APP{}", i % 100);
        info.host_name = "127.0.0.1";
        info.ip_addr = "127.0.0.1";
        info.data_center_name = "MyOwn";
        info.lease.duration_secs = 3600;
        info.health_check_url = fmt::format("http://127.0.0.1:{}/health", port);
        (void)reg.register_instance(info.app, info);
    }
    const long rss_before = rss_kib();
    boost::asio::io_context io(1);
    auto guard = boost::asio::make_work_guard(io);
    registry::HealthCheckOptions options;
    options.interval = std::chrono::milliseconds(static_cast<long>(interval_s * 1000));
    registry::HealthChecker checker(io, reg, options);
    std::thread loop([&io] { io.run(); });
    checker.start();
    const auto started = std::chrono::steady_clock::now();
    long rss_peak = rss_before;
    while (checker.rounds() < static_cast<std::uint64_t>(rounds)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        rss_peak = std::max(rss_peak, rss_kib());
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double cpu = thread_cpu_seconds(loop.native_handle());
    const auto probes = reg.counters().health_probes.load();
    const auto failures = reg.counters().health_probe_failures.load();
    checker.stop();
    guard.reset();
    io.stop();
    loop.join();
    ::kill(server, SIGTERM);
    ::waitpid(server, nullptr, 0);
    std::printf("instances %d, interval %.1f s, %d rounds in %.1f s\n", n, interval_s, rounds, wall);
    std::printf("probes %llu (failed %llu), %.0f per second, at most %zu in flight\n",
                static_cast<unsigned long long>(probes), static_cast<unsigned long long>(failures),
                static_cast<double>(probes) / wall, checker.max_in_flight_seen());
    std::printf("checker thread CPU %.2f s = %.1f %% of one core; %.1f us per probe\n", cpu,
                100.0 * cpu / wall, 1e6 * cpu / static_cast<double>(probes));
    std::printf("RSS %ld KiB with the registry, %ld KiB at most while probing (+%ld KiB)\n",
                rss_before, rss_peak, rss_peak - rss_before);
    return 0;
}
