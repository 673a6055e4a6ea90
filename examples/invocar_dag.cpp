// invocar_dag: the seed lesson's invocar_dag.py through Orquestra's REST API. Triggers a DAG
// with {"usuario_id": N} as its conf, waits for the run to finish and reports it. The caller
// needs to know only the DAG's name and its parameters, not which services it calls.
//
//     invocar_dag --password teste --usuario-id 2
//
// stdout, one line each:
//     Run <run_id> criada (estado queued)
//     Aguardando o fim da run (até 60 s)
//     Tarefa <task_id>: <state> (tentativa <n>)      for each task, upstream first;
//                                                    "sem estado" when null,
//                                                    no "(tentativa ...)" before a first try
//     Run <run_id>: success                          or failed
// A failed task's log (its last lines) follows the task lines, indented.
//
// Errors go to stderr as "invocar_dag: erro: <reason>", with the server's reason when it gave
// one ("HTTP 401: invalid username or password"). Exit codes: 0 the run succeeded, 1 it
// failed, 2 anything else (bad flags, HTTP errors, the run did not finish in time).

#include "client/api_client.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using orquestra::client::ApiClient;
using orquestra::client::TaskInstanceInfo;

constexpr std::size_t kLogTailLines = 20;

// "2024-03-01T09:26:27.123+00:00", the form the API writes.
std::string utc_now() {
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
    const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+00:00", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                       ms.count() % 1000);
}

int fail(std::string_view reason) {
    std::cerr << "invocar_dag: erro: " << reason << std::endl;
    return 2;
}

void print_log_tail(const std::string& log) {
    std::vector<std::string_view> lines;
    std::string_view rest = log;
    while (!rest.empty()) {
        auto end = rest.find('\n');
        lines.push_back(rest.substr(0, end));
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
    const std::size_t from = lines.size() > kLogTailLines ? lines.size() - kLogTailLines : 0;
    for (std::size_t i = from; i < lines.size(); ++i) std::cout << "    " << lines[i] << '\n';
}

// Prints each task's state and, for failed tasks, the end of its log. Best effort: a failure
// to read them is reported and does not change the outcome.
void report_tasks(const ApiClient& api, const std::string& dag_id, const std::string& run_id) {
    auto tasks = api.task_instances(dag_id, run_id);
    if (!tasks) {
        std::cerr << "invocar_dag: não foi possível ler as tarefas: " << tasks.error().message
                  << std::endl;
        return;
    }
    // In the DAG's order (upstream first) when the server tells it; else as listed.
    if (auto order = api.task_ids(dag_id)) {
        auto rank = [&order](const std::string& id) {
            return std::find(order->begin(), order->end(), id) - order->begin();
        };
        std::stable_sort(tasks->begin(), tasks->end(),
                         [&rank](const TaskInstanceInfo& a, const TaskInstanceInfo& b) {
                             return rank(a.task_id) < rank(b.task_id);
                         });
    }
    for (const TaskInstanceInfo& ti : *tasks) {
        std::cout << fmt::format("Tarefa {}: {}", ti.task_id,
                                 ti.state.empty() ? "sem estado" : ti.state);
        if (ti.try_number > 0) std::cout << fmt::format(" (tentativa {})", ti.try_number);
        std::cout << std::endl;
    }
    for (const TaskInstanceInfo& ti : *tasks) {
        if (ti.state != "failed" || ti.try_number < 1) continue;
        auto log = api.task_log(dag_id, run_id, ti.task_id, ti.try_number);
        if (!log) continue;
        std::cout << fmt::format("Log de {} (tentativa {}), últimas linhas:", ti.task_id,
                                 ti.try_number)
                  << '\n';
        print_log_tail(*log);
        std::cout.flush();
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string url = "http://127.0.0.1:8080";
    std::string username = "admin";
    std::string password;
    std::string dag_id = "servico_usuarios_mensagens";
    std::string run_id;
    std::int64_t usuario_id = 1;
    int timeout_seconds = 60;

    CLI::App cli{"Dispara um DAG do Orquestra pela API REST e espera a execução terminar",
                 "invocar_dag"};
    cli.add_option("--url", url, "URL do Orquestra (a API fica em <url>/api/v1)")
        ->capture_default_str();
    cli.add_option("--username", username, "Usuário da API")->capture_default_str();
    cli.add_option("--password", password, "Senha (padrão: $ORQUESTRA_PASSWORD)")
        ->envname("ORQUESTRA_PASSWORD")
        ->required();
    cli.add_option("--dag", dag_id, "O DAG a disparar")->capture_default_str();
    cli.add_option("--run-id", run_id, "Id da execução (padrão: invocar_dag__<data e hora>)");
    cli.add_option("--usuario-id", usuario_id, "Parâmetro usuario_id da execução")
        ->capture_default_str();
    cli.add_option("--timeout-seconds", timeout_seconds, "Quanto esperar pelo fim da execução")
        ->check(CLI::Range(1, 7 * 24 * 3600))
        ->capture_default_str();
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = cli.exit(e);
        return code == 0 ? 0 : 2;
    }
    if (run_id.empty()) run_id = "invocar_dag__" + utc_now();

    const auto timeout = std::chrono::seconds(timeout_seconds);
    const ApiClient api(url, username, password,
                        std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(10)));
    auto run = api.trigger_dag(dag_id, run_id, {{"usuario_id", usuario_id}});
    if (!run) return fail(run.error().message);
    std::cout << fmt::format("Run {} criada (estado {})", run->dag_run_id, run->state) << std::endl;
    std::cout << fmt::format("Aguardando o fim da run (até {} s)", timeout_seconds) << std::endl;

    auto done = api.wait_for_run(run->dag_id, run->dag_run_id, timeout);
    if (!done) {
        report_tasks(api, run->dag_id, run->dag_run_id);
        return fail(done.error().message);
    }
    report_tasks(api, done->dag_id, done->dag_run_id);
    std::cout << fmt::format("Run {}: {}", done->dag_run_id, done->state) << std::endl;
    return done->state == "success" ? 0 : 1;
}
