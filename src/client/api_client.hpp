#pragma once
// ApiClient: a small blocking client of Orquestra's Airflow-compatible REST API (/api/v1, see
// shared/design/AIRFLOW-API.md and src/api/): trigger a DAG run, read it, wait for it to
// finish, list its task instances and read their logs. For scripts, CLIs and tests.
//
// Each call is one HTTP request (or, for wait_for_run, a series of them) on a new connection,
// bounded by the per-request timeout; it blocks the calling thread, so never call it from an
// event loop. The client holds no mutable state: one instance may be used from several
// threads at once.
//
// Failures: nothing throws. A non-2xx answer becomes an Error whose message is
// "HTTP <status>: <detail>" (the problem+json `detail`, else its `title`, else the body) and
// whose code follows the status: 400 kInvalidArgument, 401 kUnauthorized, 403 kForbidden,
// 404 kNotFound, 409 kConflict, 413 kTooLarge, other 4xx kInvalidArgument, 5xx kUnavailable.
// http_status() reads the status back from such an Error. A server that cannot be reached is
// kUnavailable (kTimeout when the request timed out); an answer that is not the documented
// JSON is kInternal; a bad base URL is kInvalidArgument from every call.
//
// Usage:
//
//     client::ApiClient api("http://127.0.0.1:8080", "admin", password);
//     auto run = api.trigger_dag("servico_usuarios_mensagens", "", {{"usuario_id", 1}});
//     if (!run) return fail(run.error().message);     // e.g. "HTTP 409: DAGRun ... exists"
//     auto done = api.wait_for_run(run->dag_id, run->dag_run_id, std::chrono::seconds(60));
//     if (done && done->state == "success") { ... }
//     for (const auto& ti : *api.task_instances(run->dag_id, run->dag_run_id)) {
//         std::cout << ti.task_id << ": " << ti.state << '\n';
//     }

#include "core/error.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orquestra::client {

// A DAG run as the API describes it. Datetimes are the server's ISO-8601 text
// ("2024-03-01T09:26:27.123+00:00"); start_date and end_date are empty while unset.
struct DagRunInfo {
    std::string dag_id;
    std::string dag_run_id;
    std::string state;  // queued, running, success or failed
    std::string logical_date;
    std::string start_date;
    std::string end_date;
    boost::json::object conf;
};

struct TaskInstanceInfo {
    std::string task_id;
    std::string state;  // empty when the task has no state yet (Airflow's null)
    int try_number = 0;
    std::string start_date;  // ISO-8601 as the server wrote it; empty while unset
    std::string end_date;
};

class ApiClient {
  public:
    // `base_url` is "http://host[:port][/prefix]"; "/api/v1" is appended unless the URL
    // already ends with it. `username` and `password` are sent as HTTP Basic credentials.
    ApiClient(std::string_view base_url, std::string username, std::string password,
              std::chrono::milliseconds request_timeout = std::chrono::seconds(10));

    // POST /dags/{dag_id}/dagRuns. An empty `run_id` lets the server choose one.
    Result<DagRunInfo> trigger_dag(std::string_view dag_id, std::string_view run_id = {},
                                   const boost::json::object& conf = {}) const;
    Result<DagRunInfo> get_dag_run(std::string_view dag_id, std::string_view run_id) const;
    // Polls the run every `poll_interval` until its state is success or failed, and returns
    // it then; kTimeout once `timeout` has passed. Transient failures (server unreachable or
    // 5xx) are retried until the deadline; other errors end the wait at once.
    Result<DagRunInfo> wait_for_run(
        std::string_view dag_id, std::string_view run_id, std::chrono::milliseconds timeout,
        std::chrono::milliseconds poll_interval = std::chrono::milliseconds(100)) const;
    // Every task instance of the run (all pages), in the server's order (by task id).
    Result<std::vector<TaskInstanceInfo>> task_instances(std::string_view dag_id,
                                                         std::string_view run_id) const;
    // The DAG's task ids as the server lists them (Orquestra: upstream before downstream).
    Result<std::vector<std::string>> task_ids(std::string_view dag_id) const;
    // The whole log of one try (numbered from 1) of a task instance, as text.
    Result<std::string> task_log(std::string_view dag_id, std::string_view run_id,
                                 std::string_view task_id, int try_number) const;

    // The base of every request, e.g. "http://127.0.0.1:8080/api/v1" (for messages).
    const std::string& api_url() const { return api_url_; }

  private:
    struct Reply {
        int status = 0;
        std::string content_type;
        std::string body;
    };
    Result<Reply> send(std::string method, std::string target_below_api, std::string body = {},
                       std::string_view accept = "application/json",
                       std::optional<std::chrono::milliseconds> timeout = std::nullopt) const;
    Result<boost::json::object> send_json(std::string method, std::string target_below_api,
                                          std::string body = {}) const;

    std::optional<Error> bad_url_;
    std::string host_;
    std::uint16_t port_ = 0;
    std::string prefix_;  // the target's path up to and including "/api/v1"
    std::string api_url_;
    std::string authorization_;
    std::chrono::milliseconds timeout_;
};

// The HTTP status an ApiClient error came from ("HTTP 409: ..." → 409); nullopt for errors
// that did not come from an answer (transport, bad URL, unreadable JSON).
std::optional<int> http_status(const Error& error);

}  // namespace orquestra::client
