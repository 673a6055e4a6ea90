// The DAG loader on arbitrary text, as a DAG folder reads a file: YAML syntax, validation,
// templates, params schemas, schedules and the graph checks, all of which must fail as values.
#include "dag/loader.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto detailed = orquestra::dag::parse_dag_detailed(text, "fuzz.yaml");
    if (detailed) {
        volatile std::size_t sink = detailed->tasks.size() + detailed->params.size();
        (void)sink;
    }
    return 0;
}
