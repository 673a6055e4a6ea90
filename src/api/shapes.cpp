#include "api/shapes.hpp"

#include <sodium.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "dag/time_text.hpp"

namespace orquestra::api {

namespace json = boost::json;

namespace {

json::value text_or_null(const std::string& s) {
    if (s.empty()) return nullptr;
    return json::string(s);
}

json::value time_delta_or_null(std::optional<Millis> d) {
    if (!d) return nullptr;
    return time_delta_json(*d);
}

json::object class_ref(std::string_view kind) {
    json::object ref;
    ref["class_name"] = operator_class(kind);
    if (kind == "http") {
        ref["module_path"] = "orquestra.operators.http";
    } else if (kind == "command") {
        ref["module_path"] = "orquestra.operators.command";
    } else if (kind == "trigger_dag") {
        ref["module_path"] = "orquestra.operators.trigger_dag";
    } else {
        ref["module_path"] = "orquestra.sensors.wait_for_service";
    }
    return ref;
}

std::string_view ui_color(std::string_view kind) {
    if (kind == "http") return "#e8f7e4";
    if (kind == "command") return "#f0ede4";
    if (kind == "trigger_dag") return "#ffefeb";
    return "#e6f1f2";
}

// The DAG's owners as Airflow lists them: each task's owner once, in task order.
json::array owners(const DagView& view) {
    json::array out;
    if (!view.dag) return out;
    std::set<std::string> seen;
    for (const auto& task : view.dag->tasks) {
        const std::string& owner = task.owner.empty() ? view.dag->default_args.owner : task.owner;
        if (seen.insert(owner).second) out.emplace_back(json::string(owner));
    }
    if (out.empty()) out.emplace_back(json::string(view.dag->default_args.owner));
    return out;
}


json::value timetable_description(const dag::Schedule& schedule) {
    switch (schedule.kind()) {
        case dag::ScheduleKind::kNone:
            return json::string("Never, external triggers only");
        case dag::ScheduleKind::kOnce:
            return json::string("Once, as soon as possible");
        case dag::ScheduleKind::kInterval:
            return json::string("Every " + dag::format_duration(*schedule.interval()));
        case dag::ScheduleKind::kCron:
            return json::string("Cron: " + schedule.cron_expression());
    }
    return nullptr;
}

json::value parse_or_text(const std::string& text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) return json::string(text);
    return v;
}

}  // namespace

std::string file_token(const std::string& fileloc) {
    static const bool sodium_ready = ::sodium_init() >= 0;
    (void)sodium_ready;  // generichash works either way; libsodium asks for init first
    unsigned char digest[16];
    ::crypto_generichash(digest, sizeof(digest),
                         reinterpret_cast<const unsigned char*>(fileloc.data()), fileloc.size(),
                         nullptr, 0);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : digest) {
        out += kHex[b >> 4];
        out += kHex[b & 0xf];
    }
    return out;
}

json::value datetime_json(std::optional<Millis> t) {
    if (!t) return nullptr;
    return json::string(dag::format_datetime(*t));
}

json::object time_delta_json(Millis duration) {
    if (duration < 0) duration = 0;
    json::object out;
    out["__type"] = "TimeDelta";
    out["days"] = duration / 86'400'000;
    out["seconds"] = (duration % 86'400'000) / 1000;
    out["microseconds"] = (duration % 1000) * 1000;
    return out;
}

json::value schedule_interval_json(const dag::Schedule& schedule) {
    switch (schedule.kind()) {
        case dag::ScheduleKind::kNone:
            return nullptr;
        case dag::ScheduleKind::kInterval:
            return time_delta_json(*schedule.interval());
        case dag::ScheduleKind::kOnce:
        case dag::ScheduleKind::kCron: {
            json::object out;
            out["__type"] = "CronExpression";
            out["value"] = schedule.text();
            return out;
        }
    }
    return nullptr;
}

std::string_view operator_class(std::string_view kind) {
    if (kind == "http") return "HttpOperator";
    if (kind == "command") return "CommandOperator";
    if (kind == "wait_for_service") return "WaitForServiceSensor";
    if (kind == "trigger_dag") return "TriggerDagRunOperator";
    return "Operator";
}

json::object dag_json(const DagView& view) {
    const store::DagRecord& rec = view.record;
    const dag::Dag* d = view.dag.get();
    json::object out;
    out["dag_id"] = rec.dag_id;
    out["dag_display_name"] = rec.dag_id;
    out["root_dag_id"] = nullptr;
    out["is_paused"] = rec.is_paused;
    out["is_active"] = rec.is_active && d != nullptr;
    out["is_subdag"] = false;
    out["last_parsed_time"] =
        datetime_json(rec.last_parsed > 0 ? std::optional(rec.last_parsed) : std::nullopt);
    out["last_pickled"] = nullptr;
    out["last_expired"] = nullptr;
    out["scheduler_lock"] = nullptr;
    out["pickle_id"] = nullptr;
    out["default_view"] = "grid";
    out["fileloc"] = d != nullptr ? d->fileloc : rec.fileloc;
    out["file_token"] = file_token(d != nullptr ? d->fileloc : rec.fileloc);
    out["owners"] = owners(view);
    out["description"] = d != nullptr ? text_or_null(d->description) : json::value(nullptr);
    out["schedule_interval"] =
        d != nullptr ? schedule_interval_json(d->schedule) : json::value(nullptr);
    out["timetable_description"] =
        d != nullptr ? timetable_description(d->schedule) : json::value(nullptr);
    json::array tags;
    if (d != nullptr) {
        for (const auto& tag : d->tags) tags.emplace_back(json::object{{"name", tag}});
    }
    out["tags"] = std::move(tags);
    out["max_active_tasks"] =
        d != nullptr ? json::value(d->max_active_tasks) : json::value(nullptr);
    out["max_active_runs"] = d != nullptr ? json::value(d->max_active_runs) : json::value(nullptr);
    out["max_consecutive_failed_dag_runs"] = 0;
    out["has_task_concurrency_limits"] = false;
    out["has_import_errors"] = view.has_import_errors;
    if (view.next) {
        out["next_dagrun"] = datetime_json(view.next->start);
        out["next_dagrun_data_interval_start"] = datetime_json(view.next->start);
        out["next_dagrun_data_interval_end"] = datetime_json(view.next->end);
        out["next_dagrun_create_after"] = datetime_json(view.next->end);
    } else {
        out["next_dagrun"] = nullptr;
        out["next_dagrun_data_interval_start"] = nullptr;
        out["next_dagrun_data_interval_end"] = nullptr;
        out["next_dagrun_create_after"] = nullptr;
    }
    return out;
}

json::object dag_detail_json(const DagView& view) {
    json::object out = dag_json(view);
    const dag::Dag* d = view.dag.get();
    if (d == nullptr) return out;
    out["timezone"] = "UTC";
    out["catchup"] = d->catchup;
    out["orientation"] = "LR";
    out["concurrency"] = d->max_active_tasks;
    out["start_date"] = datetime_json(d->start_date);
    out["end_date"] = datetime_json(d->end_date);
    out["dag_run_timeout"] = nullptr;
    out["dataset_expression"] = nullptr;
    out["doc_md"] = text_or_null(d->doc);
    out["is_paused_upon_creation"] = d->is_paused_upon_creation;
    out["last_parsed"] = out["last_parsed_time"];
    out["template_search_path"] = nullptr;
    // Templates keep their values' types ("{{ params.n }}" renders the number).
    out["render_template_as_native_obj"] = true;
    json::object params;
    for (const auto& p : d->params) {
        json::object param;
        param["__class"] = "airflow.models.param.Param";
        param["value"] = p.default_value ? *p.default_value : json::value(nullptr);
        const json::value* description = p.schema.if_contains("description");
        param["description"] = description != nullptr ? *description : json::value(nullptr);
        param["schema"] = p.schema;
        params[p.name] = std::move(param);
    }
    out["params"] = std::move(params);
    return out;
}

json::object task_json(const dag::Dag& d, const dag::Task& task) {
    std::string_view kind = task.kind_name();
    json::object out;
    out["class_ref"] = class_ref(kind);
    out["task_id"] = task.task_id;
    out["task_display_name"] = task.task_id;
    out["owner"] = task.owner.empty() ? d.default_args.owner : task.owner;
    out["start_date"] = datetime_json(d.start_date);
    out["end_date"] = datetime_json(d.end_date);
    out["trigger_rule"] = dag::to_string(task.trigger_rule);
    out["extra_links"] = json::array();
    out["depends_on_past"] = false;
    out["is_mapped"] = false;
    out["wait_for_downstream"] = false;
    out["retries"] = task.retries;
    out["queue"] = "default";
    out["executor"] = nullptr;
    out["pool"] = task.pool;
    out["pool_slots"] = task.pool_slots;
    out["execution_timeout"] = time_delta_or_null(task.execution_timeout);
    out["retry_delay"] = time_delta_json(task.retry_delay);
    out["retry_exponential_backoff"] = task.retry_exponential_backoff;
    out["priority_weight"] = 1;
    out["weight_rule"] = "downstream";
    out["ui_color"] = ui_color(kind);
    out["ui_fgcolor"] = "#000000";
    out["template_fields"] = json::array();
    json::array downstream;
    for (const auto& id : task.downstream) downstream.emplace_back(json::string(id));
    out["downstream_task_ids"] = std::move(downstream);
    out["doc_md"] = text_or_null(task.doc);
    return out;
}

json::object run_json(const store::DagRun& run) {
    json::object out;
    out["dag_run_id"] = run.run_id;
    out["dag_id"] = run.dag_id;
    out["logical_date"] = datetime_json(run.logical_date);
    out["execution_date"] = datetime_json(run.logical_date);
    out["start_date"] = datetime_json(run.start_date);
    out["end_date"] = datetime_json(run.end_date);
    out["data_interval_start"] = datetime_json(run.data_interval_start);
    out["data_interval_end"] = datetime_json(run.data_interval_end);
    out["last_scheduling_decision"] = datetime_json(run.last_scheduling_decision);
    out["run_type"] = store::to_string(run.run_type);
    out["state"] = store::to_string(run.state);
    out["external_trigger"] = run.external_trigger;
    json::value conf = parse_or_text(run.conf_json);
    out["conf"] = conf.is_object() ? conf : json::object();
    out["note"] = text_or_null(run.note);
    // Not in Airflow's API: the trigger_dag task whose try created the run, or null.
    if (run.parent_dag_id.empty()) {
        out["triggered_by"] = nullptr;
    } else {
        json::object parent;
        parent["dag_id"] = run.parent_dag_id;
        parent["dag_run_id"] = run.parent_run_id;
        parent["task_id"] = run.parent_task_id;
        parent["depth"] = run.trigger_depth;
        out["triggered_by"] = std::move(parent);
    }
    return out;
}

json::object task_instance_json(const store::TaskInstance& ti, Millis logical_date) {
    json::object out;
    out["task_id"] = ti.task_id;
    out["task_display_name"] = ti.task_id;
    out["dag_id"] = ti.dag_id;
    out["dag_run_id"] = ti.run_id;
    out["execution_date"] = datetime_json(logical_date);
    out["start_date"] = datetime_json(ti.start_date);
    out["end_date"] = datetime_json(ti.end_date);
    if (ti.start_date && ti.end_date) {
        out["duration"] = static_cast<double>(*ti.end_date - *ti.start_date) / 1000.0;
    } else {
        out["duration"] = nullptr;
    }
    out["state"] = ti.state == store::TaskState::kNone ? json::value(nullptr)
                                                       : json::value(store::to_string(ti.state));
    out["try_number"] = ti.try_number;
    out["map_index"] = ti.map_index;
    // Airflow's max_tries counts retries; Orquestra's record counts tries.
    out["max_tries"] = std::max(0, ti.max_tries - 1);
    out["hostname"] = ti.hostname;
    out["served_by"] = ti.served_by;
    out["unixname"] = "";
    out["pool"] = ti.pool;
    out["pool_slots"] = ti.pool_slots;
    out["queue"] = "default";
    out["priority_weight"] = 1;
    out["operator"] = ti.operator_name.empty() ? json::value(nullptr)
                                               : json::value(operator_class(ti.operator_name));
    out["queued_when"] = datetime_json(ti.queued_when);
    out["pid"] = ti.pid != 0 ? json::value(ti.pid) : json::value(nullptr);
    out["executor"] = nullptr;
    out["executor_config"] = "{}";
    out["sla_miss"] = nullptr;
    out["rendered_map_index"] = nullptr;
    out["rendered_fields"] = json::object();
    out["trigger"] = nullptr;
    out["triggerer_job"] = nullptr;
    out["note"] = text_or_null(ti.note);
    return out;
}

json::object task_try_json(const store::TaskTry& t, const store::TaskInstance& ti,
                           Millis logical_date) {
    json::object out;
    out["task_id"] = t.task_id;
    out["dag_id"] = t.dag_id;
    out["dag_run_id"] = t.run_id;
    out["execution_date"] = datetime_json(logical_date);
    out["try_number"] = t.try_number;
    out["map_index"] = t.map_index;
    out["state"] = t.state == store::TaskState::kNone ? json::value(nullptr)
                                                      : json::value(store::to_string(t.state));
    out["start_date"] = datetime_json(t.start_date);
    out["end_date"] = datetime_json(t.end_date);
    out["duration"] = t.end_date ? json::value(static_cast<double>(*t.end_date - t.start_date) /
                                               1000.0)
                                 : json::value(nullptr);
    out["hostname"] = t.hostname;
    out["served_by"] = t.served_by;
    out["error"] = text_or_null(t.error);
    out["operator"] = ti.operator_name.empty() ? json::value(nullptr)
                                               : json::value(operator_class(ti.operator_name));
    out["max_tries"] = std::max(0, ti.max_tries - 1);
    json::value rendered = parse_or_text(t.rendered_json);
    out["rendered_fields"] = rendered.is_object() ? rendered : json::object();
    return out;
}

json::object task_instance_reference_json(const store::TaskInstance& ti, Millis logical_date) {
    json::object out;
    out["task_id"] = ti.task_id;
    out["dag_id"] = ti.dag_id;
    out["execution_date"] = datetime_json(logical_date);
    out["dag_run_id"] = ti.run_id;
    return out;
}

json::object xcom_json(const store::TaskInstance& ti, Millis logical_date, bool with_value,
                       bool stringify) {
    json::object out;
    out["key"] = "return_value";
    out["timestamp"] = datetime_json(ti.end_date.value_or(logical_date));
    out["execution_date"] = datetime_json(logical_date);
    out["map_index"] = ti.map_index;
    out["task_id"] = ti.task_id;
    out["dag_id"] = ti.dag_id;
    out["dag_run_id"] = ti.run_id;
    if (with_value) {
        const std::string text = ti.output_json.value_or("null");
        // Airflow 2.8's XCom schema types `value` as a string: the JSON text of the output.
        out["value"] = stringify ? json::value(json::string(text)) : parse_or_text(text);
    }
    return out;
}

json::object import_error_json(const store::ImportError& error) {
    json::object out;
    out["import_error_id"] = error.id;
    out["timestamp"] = datetime_json(error.timestamp);
    out["filename"] = error.filename;
    out["stack_trace"] = error.message;
    return out;
}

std::string_view status_title(int status) {
    switch (status) {
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 406:
            return "Not Acceptable";
        case 409:
            return "Conflict";
        case 413:
            return "Payload Too Large";
        case 415:
            return "Unsupported Media Type";
        case 429:
            return "Too Many Requests";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Internal Server Error";
    }
}

std::string problem_json(int status, std::string_view detail, std::string_view instance) {
    json::object out;
    out["type"] = "about:blank";
    out["title"] = status_title(status);
    out["status"] = status;
    out["detail"] = detail;
    out["instance"] = instance;
    return json::serialize(out);
}

}  // namespace orquestra::api
