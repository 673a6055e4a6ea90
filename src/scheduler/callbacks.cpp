#include "scheduler/callbacks.hpp"

#include "dag/time_text.hpp"
#include "scheduler/engine.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace orquestra::scheduler {

namespace json = boost::json;

std::string_view to_string(CallbackEvent event) {
    switch (event) {
        case CallbackEvent::kFailure:
            return "failure";
        case CallbackEvent::kSuccess:
            return "success";
        case CallbackEvent::kRetry:
            return "retry";
    }
    return "failure";
}

std::string_view key_of(CallbackEvent event) {
    switch (event) {
        case CallbackEvent::kFailure:
            return "on_failure";
        case CallbackEvent::kSuccess:
            return "on_success";
        case CallbackEvent::kRetry:
            return "on_retry";
    }
    return "on_failure";
}

namespace {

json::value date_or_null(const std::optional<Millis>& t) {
    return t ? json::value(dag::format_datetime(*t)) : json::value(nullptr);
}

json::value text_or_null(const std::string& s) {
    return s.empty() ? json::value(nullptr) : json::value(s);
}

}  // namespace

json::object task_callback_json(CallbackEvent event, const store::DagRun& run,
                                const store::TaskInstance& ti, const std::string& error) {
    json::object o;
    o["event"] = to_string(event);
    o["dag_id"] = run.dag_id;
    o["run_id"] = run.run_id;
    o["task_id"] = ti.task_id;
    o["try_number"] = ti.try_number;
    o["map_index"] = ti.map_index;
    o["state"] = store::to_string(ti.state);
    o["logical_date"] = dag::format_datetime(run.logical_date);
    o["start_date"] = date_or_null(ti.start_date);
    o["end_date"] = date_or_null(ti.end_date);
    o["error"] = text_or_null(error);
    o["run_type"] = store::to_string(run.run_type);
    return o;
}

json::object run_callback_json(CallbackEvent event, const store::DagRun& run,
                               const std::string& error) {
    json::object o;
    o["event"] = to_string(event);
    o["dag_id"] = run.dag_id;
    o["run_id"] = run.run_id;
    o["state"] = store::to_string(run.state);
    o["logical_date"] = dag::format_datetime(run.logical_date);
    o["start_date"] = date_or_null(run.start_date);
    o["end_date"] = date_or_null(run.end_date);
    o["error"] = text_or_null(error);
    o["run_type"] = store::to_string(run.run_type);
    return o;
}

CallbackDispatcher::CallbackDispatcher(boost::asio::io_context& loop,
                                       executor::TaskRunner& runner, store::Secrets* secrets,
                                       std::shared_ptr<EngineMetrics> metrics, TryLog try_log,
                                       CallbackLimits limits)
    : loop_(loop),
      runner_(runner),
      secrets_(secrets),
      metrics_(std::move(metrics)),
      try_log_(std::move(try_log)),
      limits_(limits) {}

CallbackDispatcher::~CallbackDispatcher() { *alive_ = false; }

bool CallbackDispatcher::first_time(const std::string& key) {
    if (!reported_.insert(key).second) return false;
    reported_order_.push_back(key);
    while (reported_order_.size() > limits_.remembered_events) {
        reported_.erase(reported_order_.front());
        reported_order_.pop_front();
    }
    return true;
}

void CallbackDispatcher::submit(CallbackJob job) {
    if (job.callbacks == nullptr || job.callbacks->empty()) return;
    if (!first_time(job.once_key)) return;
    auto shared = std::make_shared<const CallbackJob>(std::move(job));
    for (std::size_t i = 0; i < shared->callbacks->size(); ++i) {
        Item item{shared, i};
        if (in_flight_ < limits_.max_in_flight) {
            start(std::move(item));
        } else if (queue_.size() < limits_.max_queued) {
            queue_.push_back(std::move(item));
        } else {
            const auto& cb = (*shared->callbacks)[i];
            const std::string_view kind =
                std::holds_alternative<dag::HttpSpec>(cb.target) ? "http" : "command";
            record(item, kind, false, {}, fmt::format("dropped: {} callbacks are waiting already",
                                                      limits_.max_queued));
            metrics_->callbacks.add(label_pairs(
                {{"event", to_string(shared->event)}, {"kind", kind}, {"outcome", "dropped"}}));
        }
    }
}

namespace {

// What a callback calls, for its log line.
std::string target_text(const executor::Attempt& attempt) {
    if (const auto* http = std::get_if<executor::RenderedHttp>(&attempt.work)) {
        std::string where = http->service ? "service " + *http->service : http->url.value_or("");
        return fmt::format("http {} {}{}", http->method, where, http->path);
    }
    const auto& cmd = std::get<executor::RenderedCommand>(attempt.work);
    return cmd.script ? std::string("command (script)")
                      : fmt::format("command {}", cmd.argv.empty() ? "" : cmd.argv.front());
}

}  // namespace

void CallbackDispatcher::start(Item item) {
    const CallbackJob& job = *item.job;
    const dag::Callback& cb = (*job.callbacks)[item.index];
    const bool http = std::holds_alternative<dag::HttpSpec>(cb.target);
    const std::string_view kind = http ? "http" : "command";
    // A try's renderer does the work: the callback is a task of one try for it.
    dag::Task task;
    task.task_id = job.task_id.empty() ? std::string("callback") : job.task_id;
    task.secret_reads = cb.secret_reads;
    if (http) {
        task.kind = std::get<dag::HttpSpec>(cb.target);
    } else {
        task.kind = std::get<dag::CommandSpec>(cb.target);
    }
    json::object context = job.context;
    context["callback"] = job.identity;
    auto masker = std::make_shared<Masker>();
    auto attempt = prepare_attempt(task, std::move(context), secrets_, *masker);
    if (!attempt) {
        record(item, kind, false, {}, "cannot render the callback: " + attempt.error().message);
        metrics_->callbacks.add(label_pairs(
            {{"event", to_string(job.event)}, {"kind", kind}, {"outcome", "failed"}}));
        return;
    }
    attempt->dag_id = job.dag_id;
    attempt->run_id = job.run_id;
    attempt->task_id = job.task_id;
    attempt->try_number = std::max(1, job.try_number);
    const std::string identity = json::serialize(job.identity);
    if (auto* h = std::get_if<executor::RenderedHttp>(&attempt->work)) {
        // Without a body of its own, a callback sends the event.
        if (!h->body && h->method != "GET" && h->method != "HEAD") {
            h->body = identity;
            h->content_type = "application/json";
        }
    } else if (auto* c = std::get_if<executor::RenderedCommand>(&attempt->work)) {
        c->env.emplace_back("ORQUESTRA_CALLBACK", identity);
        c->env.emplace_back("ORQUESTRA_CALLBACK_EVENT", std::string(to_string(job.event)));
        c->env.emplace_back("ORQUESTRA_DAG_ID", job.dag_id);
        c->env.emplace_back("ORQUESTRA_RUN_ID", job.run_id);
        if (!job.task_id.empty()) {
            c->env.emplace_back("ORQUESTRA_TASK_ID", job.task_id);
            c->env.emplace_back("ORQUESTRA_TRY_NUMBER", std::to_string(job.try_number));
        }
    }
    std::string target = masker->apply(target_text(*attempt));
    ++in_flight_;
    // The runner may finish after the dispatcher (and the engine) are gone: only the loop, which
    // outlives them, is touched before `alive`.
    runner_.run(std::move(*attempt), [&loop = loop_, alive = alive_, this, item, kind, target,
                                      masker](executor::AttemptResult result) mutable {
        for (auto& line : result.log) masker->apply_in_place(line);
        masker->apply_in_place(result.error);
        boost::asio::post(loop, [alive, this, item = std::move(item), kind,
                                 target = std::move(target), result = std::move(result)]() mutable {
            if (*alive) finish(item, kind, target, std::move(result));
        });
    });
}

void CallbackDispatcher::finish(const Item& item, std::string_view kind, const std::string& target,
                                executor::AttemptResult result) {
    --in_flight_;
    const CallbackJob& job = *item.job;
    metrics_->callbacks.add(label_pairs({{"event", to_string(job.event)},
                                         {"kind", kind},
                                         {"outcome", result.success ? "ok" : "failed"}}));
    record(item, kind, result.success, result.log,
           result.success ? target + ": ok" : target + ": failed: " + result.error);
    while (in_flight_ < limits_.max_in_flight && !queue_.empty()) {
        Item next = std::move(queue_.front());
        queue_.pop_front();
        start(std::move(next));
    }
}

void CallbackDispatcher::record(const Item& item, std::string_view kind, bool ok,
                                const std::vector<std::string>& lines,
                                const std::string& summary) {
    const CallbackJob& job = *item.job;
    const std::string name =
        job.callbacks->size() > 1
            ? fmt::format("{} callback {} ({})", key_of(job.event), item.index + 1, kind)
            : fmt::format("{} callback ({})", key_of(job.event), kind);
    if (job.task_id.empty()) {
        if (ok) {
            spdlog::info("run {} / {}: {}: {}", job.dag_id, job.run_id, name, summary);
        } else {
            spdlog::warn("run {} / {}: {}: {}", job.dag_id, job.run_id, name, summary);
        }
        return;
    }
    if (!ok) {
        spdlog::warn("{} / {} / {} try {}: {}: {}", job.dag_id, job.run_id, job.task_id,
                     job.try_number, name, summary);
    }
    if (!try_log_) return;
    std::vector<std::string> out;
    out.reserve(lines.size() + 1);
    for (const auto& line : lines) out.push_back(name + ": " + line);
    out.push_back(name + ": " + summary);
    try_log_(job.dag_id, job.run_id, job.task_id, job.try_number, job.map_index, out);
}

}  // namespace orquestra::scheduler
