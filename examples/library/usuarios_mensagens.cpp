// The seed lesson's workflow defined in C++ with Orquestra's library (no DAG file, no server):
// look a user up in servico_usuarios and, when the user is in the admin group, send a message
// through servico_mensagens. Both services are found by name in the registry given.
//
//     usuarios_mensagens --registry http://127.0.0.1:8761/eureka --usuario-id 1
//
// stdout: one line per task ("obter_usuario: success {...}"), then "run <id>: success" (or
// failed). Exit codes: 0 the run succeeded, 1 it failed, 2 bad flags or an error (stderr).
// With --db FILE the runs are kept in that SQLite file (or a postgresql:// URL) instead of a
// temporary one; with --register-port P this process is also registered as
// orquestra_library_example at 127.0.0.1:P for as long as it runs.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <orquestra/orquestra.hpp>
#include <string>
#include <string_view>

namespace {

int usage(const char* why) {
    std::fprintf(stderr,
                 "usuarios_mensagens: %s\n"
                 "usage: usuarios_mensagens --registry URL [--usuario-id N] [--db FILE|URL]\n"
                 "                          [--register-port P]\n",
                 why);
    return 2;
}

// The DAG of examples/dags/servico_usuarios_mensagens.yaml, in code.
orquestra::Dag usuarios_mensagens() {
    orquestra::Dag dag("usuarios_mensagens",
                       {.description = "Consulta usuário e envia mensagem", .tags = {"seed"}});
    dag.param("usuario_id", "1", R"({"type": "integer", "minimum": 1})");
    auto obter = dag.http("obter_usuario", {.service = "servico_usuarios",
                                            .path = "/usuarios/{{ params.usuario_id }}"});
    auto enviar = dag.http("enviar_mensagem",
                           {.service = "servico_mensagens",
                            .method = "POST",
                            .path = "/enviar_mensagem",
                            .json = R"j({"usuario_id": "{{ params.usuario_id }}", "grupo": "admin",
                     "mensagem": "Mensagem automática do Orquestra (biblioteca C++)"})j"},
                           {.when = "'admin' in tasks.obter_usuario.output.grupos"});
    obter >> enviar;
    return dag;
}

}  // namespace

int main(int argc, char** argv) {
    std::string registry;
    std::string db;
    std::string usuario_id = "1";
    int register_port = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (i + 1 >= argc) return usage("a flag needs a value");
        const char* value = argv[++i];
        if (flag == "--registry") {
            registry = value;
        } else if (flag == "--db") {
            db = value;
        } else if (flag == "--usuario-id") {
            usuario_id = value;
            if (usuario_id.empty() ||
                usuario_id.find_first_not_of("0123456789") != std::string::npos ||
                usuario_id.size() > 9) {
                return usage("--usuario-id must be a number");
            }
        } else if (flag == "--register-port") {
            register_port = std::atoi(value);
            if (register_port <= 0 || register_port > 65535) return usage("bad --register-port");
        } else {
            return usage("unknown flag");
        }
    }
    if (registry.empty()) return usage("--registry is needed");
    try {
        std::optional<orquestra::ServiceRegistration> registration;
        if (register_port != 0) {
            registration.emplace(
                orquestra::RegistrationOptions{.registry_url = registry,
                                               .app_name = "orquestra_library_example",
                                               .port = static_cast<std::uint16_t>(register_port)});
            registration->start();
            if (!registration->wait_registered(std::chrono::seconds(5))) {
                std::fprintf(stderr,
                             "usuarios_mensagens: the registry did not take the "
                             "registration in 5 s\n");
                return 2;
            }
            std::printf("registered as %s\n", registration->instance_id().c_str());
        }
        orquestra::Orchestrator orchestrator({.registry_url = registry, .db = db});
        orchestrator.add(usuarios_mensagens());
        auto run =
            orchestrator.trigger("usuarios_mensagens", "{\"usuario_id\": " + usuario_id + "}");
        const auto state = run.wait(std::chrono::seconds(120));
        for (const auto& task : run.tasks()) {
            std::printf("%s: %s", task.task_id.c_str(),
                        task.state.empty() ? "none" : task.state.c_str());
            if (task.output_json) std::printf(" %s", task.output_json->c_str());
            if (!task.error.empty()) std::printf(" (%s)", task.error.c_str());
            std::printf("\n");
        }
        std::printf("run %s: %s\n", run.run_id().c_str(), orquestra::to_string(state));
        return state == orquestra::RunState::kSuccess ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "usuarios_mensagens: %s\n", e.what());
        return 2;
    }
}
