// Dynamic task mapping benchmark (not a test): a DAG whose one task maps over N elements
// (default 1,000), each an HTTP call to the example service servico_usuarios (a real process,
// found through the registry), against SQLite in WAL mode. Prints the trigger-to-finish time of
// each of several runs, one after the other, and their median.
// Usage: build/bench/mapping_bench [elements=1000] [runs=5] [max_active_tasks=64]
#include "api_stack.hpp"
#include "example_processes.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <string>

using namespace orquestra;

int main(int argc, char** argv) {
    const int elements = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1000;
    const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
    const int slots = argc > 3 ? std::max(1, std::atoi(argv[3])) : 64;
    spdlog::set_level(spdlog::level::warn);
    testing::ApiStack stack;
    if (auto r = stack.start_registry(); !r) {
        fmt::print(stderr, "registry: {}\n", r.error().message);
        return 1;
    }
    auto usuarios = testing::start_example(testing::kUsuariosBin, "servico_usuarios",
                                           stack.registry_url());
    if (usuarios.port == 0) return 1;
    if (!testing::eventually(
            [&] { return !stack.registry().up_instances("servico_usuarios").empty(); })) {
        fmt::print(stderr, "servico_usuarios did not register\n");
        return 1;
    }
    std::string ids;
    for (int i = 0; i < elements; ++i) ids += fmt::format("{}{}", i ? ", " : "", 1 + i % 3);
    const std::string dag = fmt::format(R"(
dag_id: mapped_bench
is_paused_upon_creation: false
max_active_tasks: {}
max_map_length: {}
params:
  ids: {{default: [{}]}}
tasks:
  usuarios:
    expand: {{id: "{{{{ params.ids }}}}"}}
    http: {{service: servico_usuarios, path: "/usuarios/{{{{ expand.id }}}}"}}
)",
                                        slots, std::max(elements, 1024), ids);
    if (auto r = stack.start_api({{"mapped_bench.yaml", dag}}); !r) {
        fmt::print(stderr, "node: {}\n", r.error().message);
        return 1;
    }
    auto& node = stack.node();
    std::vector<double> seconds;
    for (int i = 0; i < runs; ++i) {
        std::promise<store::DagRun> finished;
        auto done = finished.get_future();
        const std::string run_id = fmt::format("bench_{}", i);
        const auto began = std::chrono::steady_clock::now();
        auto run = node.call([&]() -> Result<store::DagRun> {
            node.engine().add_run_listener([&finished, run_id](const store::DagRun& r) {
                if (r.run_id == run_id) finished.set_value(r);
            });
            scheduler::TriggerRequest req;
            req.dag_id = "mapped_bench";
            req.run_id = run_id;
            return node.engine().trigger(req);
        });
        if (!run) {
            fmt::print(stderr, "trigger: {}\n", run.error().message);
            return 1;
        }
        const store::DagRun end = done.get();
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
        seconds.push_back(s);
        fmt::print("run {}: {} instances, {} in {:.3f} s\n", i, elements,
                   store::to_string(end.state), s);
    }
    std::sort(seconds.begin(), seconds.end());
    fmt::print("mapping over {} elements (max_active_tasks {}): median {:.3f} s, best {:.3f} s\n",
               elements, slots, seconds[seconds.size() / 2], seconds.front());
    return 0;
}
