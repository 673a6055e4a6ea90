#pragma once
// A DAG defined in C++: the same model, the same rules and the same error messages as a DAG
// file (README "The YAML format"), built with calls instead of YAML.
//
//     orquestra::Dag dag("usuarios_mensagens");
//     dag.param("usuario_id", "1", R"({"type": "integer", "minimum": 1})");
//     auto a = dag.http("obter_usuario", {.service = "servico_usuarios",
//                                         .path = "/usuarios/{{ params.usuario_id }}"});
//     auto b = dag.http("enviar_mensagem", {.service = "servico_mensagens", .method = "POST",
//                                           .path = "/enviar_mensagem",
//                                           .json = R"({"usuario_id": "{{ params.usuario_id
//                                           }}"})"},
//                       {.when = "'admin' in tasks.obter_usuario.output.grupos"});
//     a >> b;          // b runs after a
//     dag.validate();  // throws DagError: cycles, unknown upstream, template syntax, ...
//
// What a call can check alone it checks at once (a task id used twice, JSON text that does not
// parse, tasks of two DAGs joined); the rest is checked by validate(), which runs the DAG file
// loader's validation on the whole DAG, and by Orchestrator::add(). Values given as JSON text
// (`json`, params, `extra_json`) are parsed when given.
//
// This header uses only the standard library. A Dag is not thread-safe; move it, do not copy.

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace orquestra {

// A DAG that is not valid; what() says why, naming the task and the field
// ("DAG 'x': task 'b' has unknown upstream 'z'").
class DagError : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

using Duration = std::chrono::milliseconds;

// An HTTP call (README, "http:"). Empty strings and unset optionals are left out.
struct HttpTask {
    std::string service{};     // a registry name, resolved at call time; or url, or connection
    std::string url{};         // an absolute http(s) URL; `path` is appended
    std::string connection{};  // a connection's id
    std::string method{};      // GET (default), POST, PUT, PATCH, DELETE, HEAD, OPTIONS
    std::string path{};        // a template; "/usuarios/{{ params.usuario_id }}"
    std::map<std::string, std::string> query{};    // templates
    std::map<std::string, std::string> headers{};  // templates
    std::string json{};  // a JSON document as text whose strings may hold templates
    std::string body{};  // a template (instead of json)
    std::optional<Duration> timeout{};
    std::optional<Duration> attempt_timeout{};
    std::vector<int> expected_status{};  // empty: any 2xx
};

// A subprocess (README, "command:"): argv or script; run values only through env.
struct CommandTask {
    std::vector<std::string> argv{};
    std::string script{};                      // run by /bin/sh -c exactly as written
    std::map<std::string, std::string> env{};  // templates
    std::optional<Duration> timeout{};
    std::string cwd{};
};

// Waits until the registry lists enough UP instances of a service.
struct WaitForService {
    std::string service{};
    std::optional<int> min_instances{};
    std::optional<Duration> timeout{};
    std::optional<Duration> poke_interval{};
};

// What any task may set besides what it does.
struct TaskOptions {
    std::string trigger_rule{};  // all_success (default), all_failed, all_done, one_success, ...
    std::string when{};          // an expression; the task is skipped when it is falsy
    std::optional<int> retries{};
    std::optional<Duration> retry_delay{};
    std::optional<bool> retry_exponential_backoff{};
    std::optional<Duration> max_retry_delay{};
    std::optional<Duration> execution_timeout{};
    std::string owner{};
    std::string doc{};
    // A JSON object of further task keys, as a DAG file would hold them.
    std::string extra_json{};
};

// The defaults every task inherits (DAG file's default_args).
struct DefaultArgs {
    std::string owner{};
    std::optional<int> retries{};
    std::optional<Duration> retry_delay{};
    std::optional<bool> retry_exponential_backoff{};
    std::optional<Duration> max_retry_delay{};
    std::optional<Duration> execution_timeout{};
};

struct DagOptions {
    std::string description{};
    std::string doc{};
    std::string schedule{};    // "1d", "@daily", "0 6 * * *"; empty: only triggered runs
    std::string start_date{};  // "2024-01-01"; needed by a schedule
    std::string end_date{};
    std::optional<bool> catchup{};
    std::optional<int> max_active_runs{};
    std::optional<int> max_active_tasks{};
    std::vector<std::string> tags{};
    DefaultArgs default_args{};
    // A JSON object of further DAG keys, as a DAG file would hold them.
    std::string extra_json{};
};

class Dag;

// A task of a Dag: a handle, cheap to copy, valid as long as its Dag lives (also after the
// Dag is moved).
class Task {
  public:
    const std::string& id() const;
    // `downstream` runs after this task; returns `downstream`, so a >> b >> c chains.
    Task operator>>(Task downstream) const;
    // `upstream` runs before this task; returns `upstream`.
    Task operator<<(Task upstream) const;
    // Each of `downstream` runs after this task.
    void operator>>(const std::vector<Task>& downstream) const;

  private:
    friend class Dag;
    struct State;
    Task(State* dag, std::size_t index) : dag_(dag), index_(index) {}
    State* dag_;
    std::size_t index_{};
};

class Dag {
  public:
    explicit Dag(std::string dag_id, DagOptions options = {});
    ~Dag();
    Dag(Dag&&) noexcept;
    Dag& operator=(Dag&&) noexcept;
    Dag(const Dag&) = delete;
    Dag& operator=(const Dag&) = delete;

    const std::string& id() const;

    // A param the run's conf may set: its default as JSON text ("1", "\"text\"", "" for none:
    // then the conf must give it) and an optional JSON Schema subset (README "Params").
    void param(const std::string& name, const std::string& default_json,
               const std::string& schema_json = "");

    // Adds a task; DagError when the id is taken or a JSON text does not parse.
    Task http(const std::string& task_id, const HttpTask& spec, const TaskOptions& options = {});
    Task command(const std::string& task_id, const CommandTask& spec,
                 const TaskOptions& options = {});
    Task wait_for_service(const std::string& task_id, const WaitForService& spec,
                          const TaskOptions& options = {});
    // Any kind a DAG file knows, its fields as a JSON object: task("t", "http",
    // R"({"service": "s", "path": "/"})"). An unknown kind or field is a validation error
    // (with the file loader's "did you mean").
    Task task(const std::string& task_id, const std::string& kind, const std::string& spec_json,
              const TaskOptions& options = {});
    // The task with this id; DagError when there is none.
    Task operator[](const std::string& task_id) const;
    std::vector<std::string> task_ids() const;

    // Throws DagError when the DAG is not valid.
    void validate() const;
    // The reason validate() would give; empty when the DAG is valid.
    std::string validation_error() const;
    // The DAG as a DAG file's text (YAML's JSON form); what an Orchestrator loads.
    std::string to_yaml() const;

  private:
    friend class Task;
    std::unique_ptr<Task::State> state_{};
};

}  // namespace orquestra
