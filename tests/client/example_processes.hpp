#pragma once
// The example programs as the tests run them: paths from the build (compile definitions), a
// service started with --port 0 whose port is read from its "listening on" line, and polling
// with a deadline.

#include "child_process.hpp"
#include "wait.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace orquestra::testing {

inline constexpr const char* kUsuariosBin = SERVICO_USUARIOS_BIN;
inline constexpr const char* kMensagensBin = SERVICO_MENSAGENS_BIN;
inline constexpr const char* kInvocarDagBin = INVOCAR_DAG_BIN;
inline constexpr const char* kSeedDagFile = SEED_DAG_FILE;

struct ExampleService {
    std::unique_ptr<ChildProcess> process;
    std::uint16_t port = 0;  // 0 when the service did not announce one
    std::string line;        // the "listening on" line as printed
};

// Starts `binary` with --port 0 --registry `registry_url` and `extra` flags, and reads its
// first stdout line. Fails the test (port stays 0) when the line is not the expected
// "<name> listening on http://127.0.0.1:<port> (registered as <NAME>)".
ExampleService start_example(const std::string& binary, const std::string& name,
                             const std::string& registry_url,
                             const std::vector<std::string>& extra = {});


}  // namespace orquestra::testing
