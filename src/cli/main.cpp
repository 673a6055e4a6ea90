// orquestra: one binary, subcommands in Airflow's shape. Parses flags, then calls app::.
#include "app/run.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
    using namespace orquestra;
    CLI::App cli{"Orquestra: a Eureka-compatible service registry and a workflow orchestrator"};
    cli.require_subcommand(1);
    cli.set_version_flag("--version", std::string(ORQUESTRA_VERSION));

    app::RegistryCommandOptions reg;
    reg.node.http.port = 8761;
    bool no_self_preservation = false;
    auto* registry = cli.add_subcommand("registry", "Run the service registry (Eureka REST API)");
    registry->add_option("--host", reg.node.http.host, "Address to listen on")
        ->capture_default_str();
    registry->add_option("--port", reg.node.http.port, "Port to listen on")->capture_default_str();
    registry->add_option("--auth", reg.node.api.auth,
                         "Require HTTP Basic auth with these credentials (user:password)");
    registry->add_flag("--no-self-preservation", no_self_preservation,
                       "Evict expired leases even when many expire at once");
    registry->add_option("--self-preservation-min-instances",
                         reg.node.registry.self_preservation_min_instances,
                         "Self-preservation engages only with at least this many leases")
        ->capture_default_str();
    registry->add_option("--threads", reg.threads, "Event-loop threads (0: one per core)")
        ->capture_default_str();

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return cli.exit(e);
    }
    try {
        if (registry->parsed()) {
            reg.node.registry.self_preservation = !no_self_preservation;
            reg.node.api.version = ORQUESTRA_VERSION;
            if (!reg.node.api.auth.empty() && reg.node.api.auth.find(':') == std::string::npos) {
                std::fprintf(stderr, "orquestra registry: --auth must be user:password\n");
                return 2;
            }
            return app::run_registry(reg);
        }
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
    return 0;
}
