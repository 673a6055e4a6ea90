#pragma once
// Entry points the CLI calls. Each blocks until SIGINT or SIGTERM and returns an exit code.

#include "app/registry_node.hpp"

namespace orquestra::app {

struct RegistryCommandOptions {
    RegistryNodeOptions node;
    int threads = 0;  // 0: one per core
};

int run_registry(RegistryCommandOptions options);

// Blocks the calling thread until SIGINT or SIGTERM.
void wait_for_signal();

// Event-loop threads for a `--threads` flag: the flag when positive, else one per core.
int thread_count(int requested);

}  // namespace orquestra::app
