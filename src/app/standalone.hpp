#pragma once
// `orquestra standalone`: everything in one process — the registry on its own port, and on the
// main port the REST API (and the console), with the scheduler and the executor finding
// services straight in the in-process registry. The first start creates the database and the
// `admin` user. With `examples`, the example DAGs are copied into the DAG folder (when not
// there yet) and the example services run as supervised child processes registered in the
// registry (examples/services/*.yaml); `services_dir` adds services of one's own.

#include "registry/health_checker.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace orquestra::app {

struct StandaloneOptions {
    std::string home;  // empty: $ORQUESTRA_HOME, else ~/.orquestra
    std::string dags;  // empty: <home>/dags
    std::string db;    // --db or $ORQUESTRA_DB: a postgresql:// URL or an SQLite file
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;           // REST API and console (0: any free port)
    std::uint16_t registry_port = 8761;  // Eureka API (0: any free port)
    bool examples = false;
    std::string services_dir;  // services/*.yaml to supervise (README "Supervised services")
    int threads = 0;  // HTTP event-loop threads (0: one per core)
    std::string registry_auth_file;  // a file holding user:password (mode 0600 or stricter)
    std::string registry_auth;       // user:password (least preferred: visible in argv)
    std::optional<std::string> registry_auth_env;  // $ORQUESTRA_REGISTRY_AUTH, taken by main
    std::vector<std::string> registry_peers;  // other registry nodes' base URLs (a cluster)
    bool insecure_registry = false;  // allow a non-loopback host without registry credentials
    bool secure_cookies = false;     // the console is reached over TLS (a proxy in front)
    std::string zone;                // --zone or $ORQUESTRA_ZONE: http tasks prefer it
    std::optional<std::int64_t> default_pool_slots;  // default_pool's size, set at start
    std::optional<registry::HealthCheckOptions> health;  // set: active health checks
    std::string version;
};

// Blocks until SIGINT or SIGTERM; returns the exit code.
int run_standalone(const StandaloneOptions& options);

}  // namespace orquestra::app
