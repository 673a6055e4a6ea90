// The audit log: GET /eventLogs[/{id}] in Airflow's EventLog shape, and record_event, which
// the handlers that change something (trigger, clear, mark, pause, delete, users) and the
// failed logins call.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "api/api.hpp"
#include "api/api_detail.hpp"
#include "api/request.hpp"
#include "core/strings.hpp"

#include <algorithm>

namespace orquestra::api {

namespace {

// Values from outside (a username that failed to log in) are cut to this before they are
// stored.
constexpr std::size_t kMaxEventField = 256;
constexpr std::size_t kMaxEventExtra = 4096;

std::string bounded(std::string text, std::size_t limit) {
    if (text.size() > limit) text.resize(limit);
    return text;
}

json::value text_or_null(const std::string& text) {
    return text.empty() ? json::value(nullptr) : json::value(text);
}

json::object event_log_json(const store::EventLog& e) {
    json::object out;
    out["event_log_id"] = e.id;
    out["when"] = datetime_json(e.when);
    out["dag_id"] = text_or_null(e.dag_id);
    out["task_id"] = text_or_null(e.task_id);
    out["run_id"] = text_or_null(e.run_id);
    out["map_index"] = nullptr;
    out["try_number"] = nullptr;
    out["event"] = e.event;
    out["execution_date"] = nullptr;
    out["owner"] = e.owner;
    out["extra"] = text_or_null(e.extra);
    return out;
}

Result<store::EventLogFilter> event_log_filter(const http::Request& req) {
    store::EventLogFilter f;
    auto paging = parse_paging(req);
    if (!paging) return paging.error();
    f.limit = paging->limit;
    f.offset = paging->offset;
    for (auto [name, target] : {std::pair{"dag_id", &f.dag_id}, std::pair{"run_id", &f.run_id},
                                std::pair{"task_id", &f.task_id}, std::pair{"event", &f.event},
                                std::pair{"owner", &f.owner}}) {
        if (auto v = req.query_param(name)) *target = *v;
    }
    for (auto [name, target] : {std::pair{"after", &f.after}, std::pair{"before", &f.before}}) {
        auto t = query_datetime(req, name);
        if (!t) return t.error();
        *target = *t;
    }
    f.included_events = query_all(req, "included_events", true);
    f.excluded_events = query_all(req, "excluded_events", true);
    if (f.included_events.size() > 100 || f.excluded_events.size() > 100) {
        return Error{ErrorCode::kInvalidArgument,
                     "query parameters 'included_events' and 'excluded_events' take at most 100 "
                     "events each"};
    }
    std::string order = req.query_param("order_by").value_or("event_log_id");
    const bool descending = order.starts_with('-');
    std::string name = descending ? order.substr(1) : order;
    if (name == "event_log_id") name = "id";
    static const std::vector<std::string> kOrders = {"id",     "when",   "event",  "owner",
                                                     "dag_id", "run_id", "task_id"};
    if (std::find(kOrders.begin(), kOrders.end(), name) == kOrders.end()) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("query parameter 'order_by' cannot be '{}': use event_log_id, "
                                 "when, event, owner, dag_id, run_id or task_id, optionally with "
                                 "a leading '-'",
                                 order)};
    }
    f.order_by = (descending ? "-" : "") + name;
    return f;
}

}  // namespace

store::EventLog ApiServer::audit_entry(const Call& call, std::string_view event,
                                       std::string_view dag_id, std::string_view run_id,
                                       std::string_view task_id, std::string extra) const {
    store::EventLog entry;
    entry.when = clock_.now_ms();
    entry.event = std::string(event);
    entry.owner = bounded(call.username, kMaxEventField);
    entry.dag_id = bounded(std::string(dag_id), kMaxEventField);
    entry.run_id = bounded(std::string(run_id), kMaxEventField);
    entry.task_id = bounded(std::string(task_id), kMaxEventField);
    entry.extra = bounded(std::move(extra), kMaxEventExtra);
    return entry;
}

asio::awaitable<void> ApiServer::record_event(const store::EventLog& entry) {
    // Captured by reference: g++ 12 mishandles non-trivial captures in co_await operands.
    auto added = co_await on_loop([this, &entry] { return store_.add_event_log(entry); });
    if (!added) {
        spdlog::error("audit log: cannot record {} by {}: {}", entry.event,
                      json::serialize(json::string(entry.owner)), added.error().message);
    }
}

asio::awaitable<void> ApiServer::list_event_logs(Call& call, const std::string* id) {
    if (id != nullptr) {
        auto wanted = parse_int(*id);
        if (!wanted || *wanted < 1) {
            send_error(call.res,
                       Error{ErrorCode::kInvalidArgument,
                             fmt::format("event_log_id must be an integer >= 1, not '{}'", *id)},
                       call.instance);
            co_return;
        }
        const std::int64_t n = *wanted;
        auto found = co_await on_reader(
            [n](store::Store& store) { return store.get_event_log(n); });
        if (!found || !found->has_value()) {
            send_error(call.res,
                       found ? Error{ErrorCode::kNotFound, fmt::format("event log {} not found", n)}
                             : found.error(),
                       call.instance);
            co_return;
        }
        send_json(call.res, event_log_json(**found));
        co_return;
    }
    auto filter = event_log_filter(call.req);
    if (!filter) {
        send_error(call.res, filter.error(), call.instance);
        co_return;
    }
    auto page = co_await on_reader(
        [&filter](store::Store& store) { return store.list_event_logs(*filter); });
    if (!page) {
        send_error(call.res, page.error(), call.instance);
        co_return;
    }
    json::array items;
    for (const auto& e : page->items) items.push_back(event_log_json(e));
    json::object out;
    out["event_logs"] = std::move(items);
    out["total_entries"] = page->total;
    send_json(call.res, out);
}

}  // namespace orquestra::api
