#pragma once
// Orquestra as a C++ library: DAGs in code (dag.hpp), run on Orquestra's engine in this process
// (orchestrator.hpp), and this process's services in the registry (service_registration.hpp).
// Only the standard library is needed to compile against these headers.
// CMake: find_package(Orquestra REQUIRED) and link Orquestra::orquestra;
// pkg-config: pkg-config --cflags --libs orquestra.

#include "orquestra/dag.hpp"
#include "orquestra/orchestrator.hpp"
#include "orquestra/service_registration.hpp"

namespace orquestra {

// "0.1.0"
const char* version();

}  // namespace orquestra
