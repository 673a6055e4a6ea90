#include "client/api_client.hpp"

#include "core/json_kind.hpp"
#include "core/strings.hpp"
#include "http/client.hpp"
#include "http/message.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <thread>
#include <utility>

namespace orquestra::client {

namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

constexpr std::string_view kApiPath = "/api/v1";
constexpr std::size_t kMaxResponseBytes = 64u << 20;  // the server caps a full log at 32 MiB
constexpr int kPageLimit = 100;                       // the API's maximum page size

ErrorCode code_for_status(int status) {
    switch (status) {
        case 400: return ErrorCode::kInvalidArgument;
        case 401: return ErrorCode::kUnauthorized;
        case 403: return ErrorCode::kForbidden;
        case 404: return ErrorCode::kNotFound;
        case 409: return ErrorCode::kConflict;
        case 413: return ErrorCode::kTooLarge;
        default: return status < 500 ? ErrorCode::kInvalidArgument : ErrorCode::kUnavailable;
    }
}

// "HTTP 409: <detail>", the detail taken from a problem+json body when there is one.
Error status_error(int status, std::string_view body) {
    std::string reason;
    boost::system::error_code ec;
    json::value parsed = json::parse(body, ec);
    if (!ec && parsed.is_object()) {
        for (const char* key : {"detail", "title"}) {
            const json::value* v = parsed.as_object().if_contains(key);
            if (v != nullptr && v->is_string() && !v->as_string().empty()) {
                reason = std::string(v->as_string());
                break;
            }
        }
    }
    if (reason.empty()) {
        constexpr std::size_t kMaxExcerpt = 300;
        reason = std::string(trim(body.substr(0, kMaxExcerpt)));
        if (reason.empty()) reason = std::string(http::reason_phrase(status));
    }
    return Error{code_for_status(status), fmt::format("HTTP {}: {}", status, reason)};
}

Error unexpected(std::string_view what, std::string_view body) {
    constexpr std::size_t kMaxExcerpt = 200;
    return Error{ErrorCode::kInternal, fmt::format("unexpected answer from the server ({}): {}",
                                                   what, body.substr(0, kMaxExcerpt))};
}

// A string member, "" when it is null or absent; an error when it has another kind.
Result<std::string> text_member(const json::object& obj, std::string_view key) {
    const json::value* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) return std::string();
    if (!v->is_string()) {
        return Error{ErrorCode::kInternal,
                     fmt::format("unexpected answer from the server: '{}' is {}, not a string", key,
                                 json_kind_name(*v))};
    }
    return std::string(v->as_string());
}

Result<DagRunInfo> parse_run(const json::object& obj) {
    DagRunInfo run;
    for (auto [key, field] :
         {std::pair{"dag_id", &run.dag_id}, std::pair{"dag_run_id", &run.dag_run_id},
          std::pair{"state", &run.state}, std::pair{"logical_date", &run.logical_date},
          std::pair{"start_date", &run.start_date}, std::pair{"end_date", &run.end_date}}) {
        auto text = text_member(obj, key);
        if (!text) return text.error();
        *field = std::move(*text);
    }
    if (run.dag_id.empty() || run.dag_run_id.empty() || run.state.empty()) {
        return unexpected("a DAG run without dag_id, dag_run_id or state", json::serialize(obj));
    }
    if (const json::value* conf = obj.if_contains("conf"); conf != nullptr && conf->is_object()) {
        run.conf = conf->as_object();
    }
    return run;
}

bool transient(const Error& e) {
    return e.code == ErrorCode::kUnavailable || e.code == ErrorCode::kTimeout;
}

}  // namespace

std::optional<int> http_status(const Error& error) {
    std::string_view m = error.message;
    constexpr std::string_view kPrefix = "HTTP ";
    if (m.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
    m.remove_prefix(kPrefix.size());
    auto end = m.find(':');
    if (end == std::string_view::npos) return std::nullopt;
    auto status = parse_int(m.substr(0, end));
    if (!status || *status < 100 || *status > 599) return std::nullopt;
    return static_cast<int>(*status);
}

ApiClient::ApiClient(std::string_view base_url, std::string username, std::string password,
                     milliseconds request_timeout)
    : authorization_("Basic " + base64_encode(username + ":" + password)),
      timeout_(request_timeout) {
    auto url = http::parse_http_url(base_url);
    if (!url) {
        bad_url_ = url.error();
        return;
    }
    std::string path = std::move(url->second);
    if (path.find_first_of("?#") != std::string::npos) {
        bad_url_ = Error{ErrorCode::kInvalidArgument,
                         fmt::format("'{}': the API's base URL takes no query", base_url)};
        return;
    }
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (!(path.size() >= kApiPath.size() && path.ends_with(kApiPath))) path += kApiPath;
    host_ = url->first.host;
    port_ = url->first.port;
    prefix_ = std::move(path);
    api_url_ = fmt::format("http://{}:{}{}", host_, port_, prefix_);
}

Result<ApiClient::Reply> ApiClient::send(std::string method, std::string target_below_api,
                                         std::string body, std::string_view accept,
                                         std::optional<milliseconds> timeout) const {
    if (bad_url_) return *bad_url_;
    http::ClientRequest req;
    req.method = std::move(method);
    req.target = prefix_ + target_below_api;
    req.headers.emplace_back("Authorization", authorization_);
    req.headers.emplace_back("Accept", std::string(accept));
    if (!body.empty()) {
        req.headers.emplace_back("Content-Type", "application/json");
        req.body = std::move(body);
    }
    const std::string what = req.method + " " + req.target;
    auto res = http::fetch(http::Endpoint{host_, port_}, std::move(req), timeout.value_or(timeout_),
                           kMaxResponseBytes);
    if (!res) {
        return Error{res.error().code, fmt::format("{} at http://{}:{} failed: {}", what, host_,
                                                   port_, res.error().message)};
    }
    if (res->status < 200 || res->status > 299) return status_error(res->status, res->body);
    return Reply{res->status, std::string(res->header("Content-Type")), std::move(res->body)};
}

Result<json::object> ApiClient::send_json(std::string method, std::string target_below_api,
                                          std::string body) const {
    auto reply = send(std::move(method), std::move(target_below_api), std::move(body));
    if (!reply) return reply.error();
    boost::system::error_code ec;
    json::value v = json::parse(reply->body, ec);
    if (ec || !v.is_object()) return unexpected("not a JSON object", reply->body);
    return std::move(v.as_object());
}

Result<DagRunInfo> ApiClient::trigger_dag(std::string_view dag_id, std::string_view run_id,
                                          const json::object& conf) const {
    json::object body;
    if (!run_id.empty()) body["dag_run_id"] = run_id;
    body["conf"] = conf;
    auto obj = send_json("POST", fmt::format("/dags/{}/dagRuns", percent_encode(dag_id)),
                         json::serialize(body));
    if (!obj) return obj.error();
    return parse_run(*obj);
}

Result<DagRunInfo> ApiClient::get_dag_run(std::string_view dag_id, std::string_view run_id) const {
    auto obj = send_json(
        "GET", fmt::format("/dags/{}/dagRuns/{}", percent_encode(dag_id), percent_encode(run_id)));
    if (!obj) return obj.error();
    return parse_run(*obj);
}

Result<DagRunInfo> ApiClient::wait_for_run(std::string_view dag_id, std::string_view run_id,
                                           milliseconds timeout, milliseconds poll_interval) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const std::string target =
        fmt::format("/dags/{}/dagRuns/{}", percent_encode(dag_id), percent_encode(run_id));
    std::string last = "unknown";
    // Rounded up, so that a wait never ends before its deadline.
    auto remaining = [&deadline] {
        return std::chrono::ceil<milliseconds>(deadline - std::chrono::steady_clock::now());
    };
    for (;;) {
        // Each poll is bounded by the wait's deadline too, but gets at least a moment.
        auto reply = send("GET", target, {}, "application/json",
                          std::min(timeout_, std::max(remaining(), milliseconds(50))));
        if (reply) {
            boost::system::error_code ec;
            json::value v = json::parse(reply->body, ec);
            if (ec || !v.is_object()) return unexpected("not a JSON object", reply->body);
            auto run = parse_run(v.as_object());
            if (!run) return run.error();
            if (run->state == "success" || run->state == "failed") return run;
            last = run->state;
        } else if (transient(reply.error())) {
            last = "unknown (" + reply.error().message + ")";
        } else {
            return reply.error();
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return Error{ErrorCode::kTimeout,
                         fmt::format("run '{}' of DAG '{}' did not finish within {} ms "
                                     "(last state: {})",
                                     run_id, dag_id, timeout.count(), last)};
        }
        std::this_thread::sleep_for(std::min(poll_interval, remaining()));
    }
}

Result<std::vector<TaskInstanceInfo>> ApiClient::task_instances(std::string_view dag_id,
                                                                std::string_view run_id) const {
    std::vector<TaskInstanceInfo> out;
    const std::string base = fmt::format("/dags/{}/dagRuns/{}/taskInstances",
                                         percent_encode(dag_id), percent_encode(run_id));
    for (;;) {
        auto page =
            send_json("GET", fmt::format("{}?limit={}&offset={}", base, kPageLimit, out.size()));
        if (!page) return page.error();
        const json::value* items = page->if_contains("task_instances");
        const json::value* total = page->if_contains("total_entries");
        if (items == nullptr || !items->is_array() || total == nullptr || !total->is_number()) {
            return unexpected("no task_instances or total_entries", json::serialize(*page));
        }
        for (const auto& item : items->as_array()) {
            if (!item.is_object()) return unexpected("a task instance", json::serialize(item));
            const auto& obj = item.as_object();
            TaskInstanceInfo ti;
            for (auto [key, field] :
                 {std::pair{"task_id", &ti.task_id}, std::pair{"state", &ti.state},
                  std::pair{"start_date", &ti.start_date}, std::pair{"end_date", &ti.end_date}}) {
                auto text = text_member(obj, key);
                if (!text) return text.error();
                *field = std::move(*text);
            }
            if (ti.task_id.empty())
                return unexpected("a task instance without task_id", json::serialize(obj));
            if (const json::value* n = obj.if_contains("try_number"); n && n->is_int64()) {
                ti.try_number = static_cast<int>(n->as_int64());
            }
            out.push_back(std::move(ti));
        }
        boost::system::error_code ec;
        const auto expected = total->to_number<std::size_t>(ec);
        // An empty page ends the walk even if the total grew meanwhile.
        if (ec || out.size() >= expected || items->as_array().empty()) return out;
    }
}

Result<std::vector<std::string>> ApiClient::task_ids(std::string_view dag_id) const {
    auto page = send_json("GET", fmt::format("/dags/{}/tasks", percent_encode(dag_id)));
    if (!page) return page.error();
    const json::value* tasks = page->if_contains("tasks");
    if (tasks == nullptr || !tasks->is_array()) {
        return unexpected("no tasks", json::serialize(*page));
    }
    std::vector<std::string> out;
    for (const auto& task : tasks->as_array()) {
        const json::value* id =
            task.is_object() ? task.as_object().if_contains("task_id") : nullptr;
        if (id == nullptr || !id->is_string()) return unexpected("a task", json::serialize(task));
        out.emplace_back(id->as_string());
    }
    return out;
}

Result<std::string> ApiClient::task_log(std::string_view dag_id, std::string_view run_id,
                                        std::string_view task_id, int try_number) const {
    auto reply = send("GET",
                      fmt::format("/dags/{}/dagRuns/{}/taskInstances/{}/logs/{}?full_content=true",
                                  percent_encode(dag_id), percent_encode(run_id),
                                  percent_encode(task_id), try_number),
                      {}, "text/plain");
    if (!reply) return reply.error();
    // An Airflow-like server that ignores Accept answers {"content": ...}.
    if (reply->content_type.starts_with("application/json")) {
        boost::system::error_code ec;
        json::value v = json::parse(reply->body, ec);
        const json::value* content =
            !ec && v.is_object() ? v.as_object().if_contains("content") : nullptr;
        if (content == nullptr || !content->is_string()) {
            return unexpected("a log without content", reply->body);
        }
        return std::string(content->as_string());
    }
    return std::move(reply->body);
}

}  // namespace orquestra::client
