#include "app/run.hpp"

#include "app/application.hpp"
#include "app/home_access.hpp"
#include "app/service_file.hpp"
#include "app/supervisor.hpp"

#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <thread>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace orquestra::app {

void wait_for_signal() {
    boost::asio::io_context io(1);
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([](const boost::system::error_code& ec, int sig) {
        if (!ec) spdlog::info("signal {}: stopping", sig);
    });
    io.run();
}

void add_event_loops(Application& app, http::IoPool& pool) {
    app.add(
        "event loops",
        [&pool]() -> Result<void> {
            pool.start();
            return {};
        },
        [&pool] { pool.stop(); });
}

int run_services(const ServicesCommandOptions& options) {
    auto services = load_service_files(options.dir);
    if (!services) {
        std::fprintf(stderr, "orquestra services: %s\n", services.error().message.c_str());
        return 1;
    }
    if (services->empty()) {
        std::fprintf(stderr, "orquestra services: no *.yaml service files in %s\n",
                     options.dir.c_str());
        return 1;
    }
    SupervisorOptions supervisor_options;
    supervisor_options.registry_url = options.registry_url;
    supervisor_options.registry_auth = options.registry_auth;
    supervisor_options.host = options.host;
    Supervisor supervisor(std::move(*services), supervisor_options, SystemClock::instance(),
                          registry_hooks::cancel_over_http(options.registry_url,
                                                           options.registry_auth, options.host));
    if (auto started = supervisor.start(); !started) {
        std::fprintf(stderr, "orquestra services: %s\n", started.error().message.c_str());
        return 1;
    }
    spdlog::info("supervising {} instance(s); stop with Ctrl-C or SIGTERM",
                 supervisor.instances().size());
    wait_for_signal();
    supervisor.stop();
    return 0;
}

int thread_count(int requested) {
    if (requested > 0) return requested;
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int run_registry(RegistryCommandOptions options) {
#if defined(__GLIBC__)
    // Large short-lived buffers (plain documents for clients that do not take gzip) come and
    // go in bursts: keep freed pages in the heap for the next request instead of returning
    // and faulting them in again each time; the node trims once it is quiet (RegistryNode).
    // Blocks of 16 MiB and more still come from and go back to the system directly.
    ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
    ::mallopt(M_MMAP_THRESHOLD, 16 << 20);
#endif
    http::IoPool pool(thread_count(options.threads));
    RegistryNode node(pool.first(), SystemClock::instance(), options.node, &pool);
    Application app;
    app.add(
        "registry",
        [&]() -> Result<void> {
            auto port = node.start();
            if (!port) return port.error();
            spdlog::info("registry listening on http://{}:{}/ (Eureka API at /eureka/v2/ and "
                         "/eureka/)",
                         options.node.http.host, *port);
            return {};
        },
        [&] { node.stop(); });
    add_event_loops(app, pool);
    if (auto r = app.start(); !r) {
        spdlog::error("{}", r.error().message);
        return 1;
    }
    if (options.node.api.auth.empty() && !is_loopback_host(options.node.http.host)) {
        spdlog::warn("the registry is open to the network without credentials: anyone who "
                     "reaches {} may register, change or remove instances (see --auth-file)",
                     options.node.http.host);
    }
    wait_for_signal();
    app.stop();
    return 0;
}

}  // namespace orquestra::app
