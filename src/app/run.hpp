#pragma once
// Entry points the CLI calls. Each blocks until SIGINT or SIGTERM and returns an exit code.

#include "app/application.hpp"
#include "app/registry_node.hpp"

#include <optional>
#include <string>

namespace orquestra::app {

struct RegistryCommandOptions {
    RegistryNodeOptions node;
    int threads = 0;  // 0: one per core
};

int run_registry(RegistryCommandOptions options);

struct ServicesCommandOptions {
    std::string dir;  // services/*.yaml
    std::string registry_url = "http://127.0.0.1:8761/eureka";
    std::optional<std::string> registry_auth;  // $ORQUESTRA_REGISTRY_AUTH
    std::string host = "127.0.0.1";            // where the services listen
};

// `orquestra services DIR`: supervises the declared services (README "Supervised services")
// until SIGINT or SIGTERM, cancelling the instances of ended children through the registry's
// REST API.
int run_services(const ServicesCommandOptions& options);

// Blocks the calling thread until SIGINT or SIGTERM.
void wait_for_signal();

// The part of a process that runs its event-loop threads (stopped, and joined, after every
// part added later).
void add_event_loops(Application& app, http::IoPool& pool);

// Event-loop threads for a `--threads` flag: the flag when positive, else one per core.
int thread_count(int requested);

}  // namespace orquestra::app
