#pragma once
// Entry points the CLI calls. Each blocks until SIGINT or SIGTERM and returns an exit code.

#include "app/registry_node.hpp"

namespace orquestra::app {

struct RegistryCommandOptions {
    RegistryNodeOptions node;
    int threads = 0;  // 0: one per core
};

int run_registry(RegistryCommandOptions options);

// Event-loop threads for a `--threads` flag: the flag when positive, else one per core.
int thread_count(int requested);
// Has the allocator give large blocks (128 KiB and up) back to the system as soon as they are
// freed, instead of raising that limit as it goes: the plain registry documents sent to
// clients that do not take gzip are large and short-lived, and would otherwise stay in the
// heap (README "Performance"). Call once, before the servers start.
void return_large_blocks_to_the_system();

}  // namespace orquestra::app
