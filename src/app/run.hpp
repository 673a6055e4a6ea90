#pragma once
// Entry points the CLI calls. Each blocks until SIGINT or SIGTERM and returns an exit code.

#include "app/registry_node.hpp"

namespace orquestra::app {

struct RegistryCommandOptions {
    RegistryNodeOptions node;
    int threads = 0;  // 0: one per core
};

int run_registry(RegistryCommandOptions options);

}  // namespace orquestra::app
