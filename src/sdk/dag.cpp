// The DAG-in-code builder. A Dag is kept as the document a DAG file would hold (a JSON object,
// which is YAML too) and validated by the DAG file loader itself (dag::parse_dag_detailed): one
// set of rules and messages for files and code, and new keys the loader learns work here at
// once (through `extra_json` or Dag::task()).

#include "orquestra/dag.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "dag/loader.hpp"

namespace orquestra {

namespace json = boost::json;

struct Task::State {
    std::string dag_id;
    json::object top;     // the DAG's keys but params and tasks
    json::object params;  // name -> schema (with its default)
    struct Entry {
        std::string id;
        json::object body;  // the task's keys but upstream
        std::vector<std::string> upstream;
    };
    std::vector<Entry> tasks;
    std::map<std::string, std::size_t, std::less<>> index;

    [[noreturn]] void fail(const std::string& reason) const {
        throw DagError(fmt::format("DAG '{}': {}", dag_id, reason));
    }

    json::value parse(const std::string& text, const std::string& what) const {
        boost::system::error_code ec;
        json::value v = json::parse(text, ec);
        if (ec) fail(fmt::format("{} is not valid JSON: {}", what, ec.message()));
        return v;
    }
    json::object parse_object(const std::string& text, const std::string& what) const {
        json::value v = parse(text, what);
        if (!v.is_object()) fail(fmt::format("{} must be a JSON object", what));
        return std::move(v.as_object());
    }

    json::object document() const {
        json::object doc;
        doc["dag_id"] = dag_id;
        for (const auto& [k, v] : top) doc[k] = v;
        if (!params.empty()) doc["params"] = params;
        json::object task_map;
        for (const Entry& e : tasks) {
            json::object t;
            if (!e.upstream.empty()) {
                json::array up;
                for (const auto& u : e.upstream) up.emplace_back(u);
                t["upstream"] = std::move(up);
            }
            for (const auto& [k, v] : e.body) t[k] = v;
            task_map[e.id] = std::move(t);
        }
        doc["tasks"] = std::move(task_map);
        return doc;
    }
};

namespace {

// The DAG files' form of a duration: "1500ms" (the loader reads it back exactly).
std::string duration_text(Duration d) { return fmt::format("{}ms", d.count()); }

void put_text(json::object& o, std::string_view key, const std::string& value) {
    if (!value.empty()) o[key] = value;
}
void put_duration(json::object& o, std::string_view key, const std::optional<Duration>& d) {
    if (d) o[key] = duration_text(*d);
}
template <class T>
void put_value(json::object& o, std::string_view key, const std::optional<T>& v) {
    if (v) o[key] = *v;
}
json::object text_map(const std::map<std::string, std::string>& m) {
    json::object o;
    for (const auto& [k, v] : m) o[k] = v;
    return o;
}

}  // namespace

const std::string& Task::id() const { return dag_->tasks[index_].id; }

Task Task::operator>>(Task downstream) const {
    if (downstream.dag_ != dag_) {
        dag_->fail(
            fmt::format("task '{}' and task '{}' belong to different DAGs", id(), downstream.id()));
    }
    auto& up = dag_->tasks[downstream.index_].upstream;
    if (std::find(up.begin(), up.end(), id()) == up.end()) up.push_back(id());
    return downstream;
}

Task Task::operator<<(Task upstream) const {
    upstream >> *this;
    return upstream;
}

void Task::operator>>(const std::vector<Task>& downstream) const {
    for (const Task& t : downstream) *this >> t;
}

Dag::Dag(std::string dag_id, DagOptions options) : state_(std::make_unique<Task::State>()) {
    Task::State& s = *state_;
    s.dag_id = std::move(dag_id);
    put_text(s.top, "description", options.description);
    put_text(s.top, "doc", options.doc);
    put_text(s.top, "schedule", options.schedule);
    put_text(s.top, "start_date", options.start_date);
    put_text(s.top, "end_date", options.end_date);
    put_value(s.top, "catchup", options.catchup);
    put_value(s.top, "max_active_runs", options.max_active_runs);
    put_value(s.top, "max_active_tasks", options.max_active_tasks);
    if (!options.tags.empty()) {
        json::array tags;
        for (const auto& t : options.tags) tags.emplace_back(t);
        s.top["tags"] = std::move(tags);
    }
    json::object defaults;
    const DefaultArgs& d = options.default_args;
    put_text(defaults, "owner", d.owner);
    put_value(defaults, "retries", d.retries);
    put_duration(defaults, "retry_delay", d.retry_delay);
    put_value(defaults, "retry_exponential_backoff", d.retry_exponential_backoff);
    put_duration(defaults, "max_retry_delay", d.max_retry_delay);
    put_duration(defaults, "execution_timeout", d.execution_timeout);
    if (!defaults.empty()) s.top["default_args"] = std::move(defaults);
    if (!options.extra_json.empty()) {
        for (auto& [k, v] : s.parse_object(options.extra_json, "extra_json")) {
            if (k == "dag_id" || k == "tasks" || k == "params") {
                s.fail(fmt::format("extra_json may not set '{}'", std::string_view(k)));
            }
            s.top[k] = v;
        }
    }
}

Dag::~Dag() = default;
Dag::Dag(Dag&&) noexcept = default;
Dag& Dag::operator=(Dag&&) noexcept = default;

const std::string& Dag::id() const { return state_->dag_id; }

void Dag::param(const std::string& name, const std::string& default_json,
                const std::string& schema_json) {
    Task::State& s = *state_;
    const std::string what = fmt::format("param '{}'", name);
    json::object schema;
    if (!schema_json.empty()) schema = s.parse_object(schema_json, what + " schema");
    if (!default_json.empty()) schema["default"] = s.parse(default_json, what + " default");
    s.params[name] = std::move(schema);
}

Task Dag::task(const std::string& task_id, const std::string& kind, const std::string& spec_json,
               const TaskOptions& options) {
    Task::State& s = *state_;
    const std::string where = fmt::format("task '{}'", task_id);
    if (s.index.contains(task_id)) s.fail(fmt::format("{} is defined twice", where));
    json::object body;
    put_text(body, "trigger_rule", options.trigger_rule);
    put_text(body, "when", options.when);
    put_value(body, "retries", options.retries);
    put_duration(body, "retry_delay", options.retry_delay);
    put_value(body, "retry_exponential_backoff", options.retry_exponential_backoff);
    put_duration(body, "max_retry_delay", options.max_retry_delay);
    put_duration(body, "execution_timeout", options.execution_timeout);
    put_text(body, "owner", options.owner);
    put_text(body, "doc", options.doc);
    if (!options.extra_json.empty()) {
        for (auto& [k, v] : s.parse_object(options.extra_json, where + " extra_json")) {
            if (k == "upstream") s.fail(where + " extra_json may not set 'upstream'; use >>");
            body[k] = v;
        }
    }
    body[kind] = s.parse(spec_json, fmt::format("{} {}", where, kind));
    s.index.emplace(task_id, s.tasks.size());
    s.tasks.push_back({task_id, std::move(body), {}});
    return Task(&s, s.tasks.size() - 1);
}

Task Dag::http(const std::string& task_id, const HttpTask& spec, const TaskOptions& options) {
    json::object o;
    put_text(o, "service", spec.service);
    put_text(o, "url", spec.url);
    put_text(o, "connection", spec.connection);
    put_text(o, "method", spec.method);
    put_text(o, "path", spec.path);
    if (!spec.query.empty()) o["query"] = text_map(spec.query);
    if (!spec.headers.empty()) o["headers"] = text_map(spec.headers);
    if (!spec.json.empty()) {
        o["json"] = state_->parse(spec.json, fmt::format("task '{}' http json", task_id));
    }
    put_text(o, "body", spec.body);
    put_duration(o, "timeout", spec.timeout);
    put_duration(o, "attempt_timeout", spec.attempt_timeout);
    if (!spec.expected_status.empty()) {
        json::array codes;
        for (int c : spec.expected_status) codes.emplace_back(c);
        o["expected_status"] = std::move(codes);
    }
    return task(task_id, "http", json::serialize(o), options);
}

Task Dag::command(const std::string& task_id, const CommandTask& spec, const TaskOptions& options) {
    json::object o;
    if (!spec.argv.empty()) {
        json::array argv;
        for (const auto& a : spec.argv) argv.emplace_back(a);
        o["argv"] = std::move(argv);
    }
    put_text(o, "script", spec.script);
    if (!spec.env.empty()) o["env"] = text_map(spec.env);
    put_duration(o, "timeout", spec.timeout);
    put_text(o, "cwd", spec.cwd);
    return task(task_id, "command", json::serialize(o), options);
}

Task Dag::wait_for_service(const std::string& task_id, const WaitForService& spec,
                           const TaskOptions& options) {
    json::object o;
    put_text(o, "service", spec.service);
    put_value(o, "min_instances", spec.min_instances);
    put_duration(o, "timeout", spec.timeout);
    put_duration(o, "poke_interval", spec.poke_interval);
    return task(task_id, "wait_for_service", json::serialize(o), options);
}

Task Dag::operator[](const std::string& task_id) const {
    auto it = state_->index.find(task_id);
    if (it == state_->index.end()) state_->fail(fmt::format("no task '{}'", task_id));
    return Task(state_.get(), it->second);
}

std::vector<std::string> Dag::task_ids() const {
    std::vector<std::string> ids;
    for (const auto& e : state_->tasks) ids.push_back(e.id);
    return ids;
}

std::string Dag::to_yaml() const { return json::serialize(state_->document()) + "\n"; }

std::string Dag::validation_error() const {
    const std::string text = to_yaml();
    dag::LoadResult loaded = dag::parse_dag_detailed(text, fmt::format("<{}>", state_->dag_id));
    if (loaded) return {};
    return fmt::format("DAG '{}': {}", state_->dag_id, loaded.error().reason);
}

void Dag::validate() const {
    if (std::string reason = validation_error(); !reason.empty()) throw DagError(reason);
}

}  // namespace orquestra
