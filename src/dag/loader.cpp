// The DAG file loader. Inside this file a validation failure throws the private LoadError
// (a line and a reason); parse_dag_detailed() catches it, and every yaml-cpp and standard
// exception, at the edge and returns it as a value. Nothing escapes the module.

#include "dag/loader.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <boost/url/parse.hpp>
#include <charconv>
#include <cmath>
#include <fstream>
#include <queue>
#include <sstream>
#include <span>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "core/strings.hpp"
#include "dag/time_text.hpp"

namespace orquestra::dag {

namespace json = boost::json;

namespace {

struct LoadError {
    int line = 0;
    std::string reason;
};

[[noreturn]] void fail(int line, std::string reason) { throw LoadError{line, std::move(reason)}; }

// Where each of the first `limit` documents of a YAML text starts (its first node). Used instead
// of YAML::LoadAll(), which in yaml-cpp 0.7 never returns on some malformed texts: after a stray
// ',' it reads an empty document at the same place again and again, growing without bound.
class DocumentStarts : public YAML::EventHandler {
  public:
    static std::vector<YAML::Mark> of(std::string_view text, std::size_t limit) {
        std::istringstream in{std::string(text)};
        YAML::Parser parser(in);
        DocumentStarts starts;
        while (starts.marks_.size() < limit && parser.HandleNextDocument(starts)) {
        }
        return std::move(starts.marks_);
    }

  private:
    void first(const YAML::Mark& mark) {
        if (!seen_) marks_.push_back(mark);
        seen_ = true;
    }
    void OnDocumentStart(const YAML::Mark&) override { seen_ = false; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { first(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { first(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  const std::string&) override {
        first(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        first(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        first(mark);
    }
    void OnMapEnd() override {}

    std::vector<YAML::Mark> marks_;
    bool seen_ = false;
};

int line_of(const YAML::Node& n, int fallback) {
    if (!n.IsDefined()) return fallback;
    const YAML::Mark m = n.Mark();
    return m.is_null() ? fallback : m.line + 1;
}

std::string_view type_name(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map:
            return "mapping";
        case YAML::NodeType::Sequence:
            return "list";
        case YAML::NodeType::Scalar:
            return "scalar";
        case YAML::NodeType::Null:
            return "null";
        case YAML::NodeType::Undefined:
            break;
    }
    return "nothing";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string join(std::span<const std::string_view> items) {
    std::string out;
    for (std::string_view s : items) {
        if (!out.empty()) out += ", ";
        out += s;
    }
    return out;
}

// "; did you mean 'schedule'?" for a near miss, else the list of valid keys.
std::string hint(std::string_view key, std::span<const std::string_view> known) {
    std::string_view best;
    std::size_t best_distance = 3;
    for (std::string_view k : known) {
        std::size_t d = edit_distance(key, k);
        if (d < best_distance) {
            best_distance = d;
            best = k;
        }
    }
    if (!best.empty()) return fmt::format("; did you mean '{}'?", best);
    return fmt::format(" (valid keys: {})", join(known));
}

constexpr std::array<std::string_view, 18> kDagKeys = {"dag_id",
                                                       "description",
                                                       "doc",
                                                       "schedule",
                                                       "start_date",
                                                       "end_date",
                                                       "catchup",
                                                       "max_active_runs",
                                                       "max_active_tasks",
                                                       "max_map_length",
                                                       "tags",
                                                       "is_paused_upon_creation",
                                                       "params",
                                                       "default_args",
                                                       "tasks",
                                                       "on_failure",
                                                       "on_success",
                                                       "on_service"};
constexpr std::array<std::string_view, 4> kOnServiceKeys = {"service", "events", "below",
                                                            "min_interval"};
constexpr std::array<std::string_view, 11> kDefaultArgsKeys = {
    "owner",           "retries",          "retry_delay", "retry_exponential_backoff",
    "max_retry_delay", "execution_timeout",
    "on_failure",      "on_success",       "on_retry",
    "pool",            "pool_slots"};
constexpr std::array<std::string_view, 20> kTaskKeys = {"upstream",
                                                        "trigger_rule",
                                                        "when",
                                                        "retries",
                                                        "retry_delay",
                                                        "retry_exponential_backoff",
                                                        "max_retry_delay",
                                                        "execution_timeout",
                                                        "owner",
                                                        "pool",
                                                        "pool_slots",
                                                        "doc",
                                                        "on_failure",
                                                        "on_success",
                                                        "on_retry",
                                                        "http",
                                                        "command",
                                                        "wait_for_service",
                                                        "trigger_dag",
                                                        "expand"};
constexpr std::array<std::string_view, 4> kTaskKinds = {"http", "command", "wait_for_service",
                                                        "trigger_dag"};
constexpr std::array<std::string_view, 7> kTriggerKeys = {
    "dag_id", "run_id", "conf", "wait", "timeout", "allowed_states", "failed_states"};
constexpr std::array<std::string_view, 12> kHttpKeys = {
    "service", "url",     "connection",      "method",         "path", "query", "headers",
    "json",    "body",    "timeout",         "attempt_timeout", "expected_status"};
constexpr std::array<std::string_view, 5> kCommandKeys = {"argv", "script", "env", "timeout",
                                                          "cwd"};
constexpr std::array<std::string_view, 4> kWaitKeys = {"service", "min_instances", "timeout",
                                                       "poke_interval"};
// A callback is an http call (these keys, as in a task's http:) or a command (argv or script).
constexpr std::array<std::string_view, 16> kCallbackKeys = {
    "service", "url",  "connection", "method",  "path",    "query", "headers", "json",
    "body",    "timeout", "attempt_timeout", "expected_status", "argv", "script", "env", "cwd"};
constexpr std::array<std::string_view, 3> kCallbackEvents = {"on_failure", "on_success",
                                                             "on_retry"};
constexpr std::array<std::string_view, 7> kMethods = {"GET",    "POST", "PUT",    "PATCH",
                                                      "DELETE", "HEAD", "OPTIONS"};

// Upper bound on YAML nodes turned into JSON, so that aliases ("billion laughs") cannot blow
// a 1 MiB file up into gigabytes. Without aliases a document holds fewer values than twice its
// bytes ("{a,b}" is the densest form), so the bound only ever stops alias expansion.
std::size_t max_json_nodes(std::size_t text_bytes) {
    return std::max<std::size_t>(10'000, 2 * text_bytes);
}
constexpr int kMaxJsonDepth = 64;

struct Entry {
    std::string key;
    YAML::Node value;
    int line = 0;        // of the key
    int value_line = 0;  // of the value (the key's line for an empty value)
    bool is_null() const { return value.IsNull(); }
};

// The entries of a YAML mapping, with duplicate and (optionally) unknown keys refused. yaml-cpp
// keeps both entries of a duplicated key and looks up only the first, so we check ourselves.
class MapView {
  public:
    // A null node reads as an empty mapping. `known` empty accepts any key.
    MapView(const YAML::Node& node, std::string_view what, int line,
            std::span<const std::string_view> known = {}, std::string_view item = "key") {
        if (!node.IsDefined() || node.IsNull()) return;
        if (!node.IsMap()) {
            fail(line_of(node, line),
                 fmt::format("{} must be a mapping, got a {}", what, type_name(node)));
        }
        std::unordered_map<std::string, int> seen;
        for (auto it = node.begin(); it != node.end(); ++it) {
            // yaml-cpp's iterator yields a temporary pair: copy the node handles out of it.
            const YAML::Node k = it->first;
            int key_line = line_of(k, line);
            if (!k.IsScalar()) fail(key_line, fmt::format("keys in {} must be strings", what));
            const std::string key = k.Scalar();
            if (auto [pos, inserted] = seen.emplace(key, key_line); !inserted) {
                fail(key_line, fmt::format("duplicate {} '{}' in {} (first at line {})", item, key,
                                           what, pos->second));
            }
            if (!known.empty() && std::find(known.begin(), known.end(), key) == known.end()) {
                fail(key_line,
                     fmt::format("unknown key '{}' in {}{}", key, what, hint(key, known)));
            }
            Entry e;
            e.key = key;
            e.value = it->second;
            e.line = key_line;
            e.value_line = e.value.IsNull() ? key_line : line_of(e.value, key_line);
            entries_.push_back(std::move(e));
        }
    }

    // The entry for `key`; nullptr when absent or null (an empty value counts as absent).
    const Entry* find(std::string_view key) const {
        const Entry* e = find_any(key);
        return e != nullptr && !e->is_null() ? e : nullptr;
    }
    const Entry* find_any(std::string_view key) const {
        for (const Entry& e : entries_) {
            if (e.key == key) return &e;
        }
        return nullptr;
    }
    const std::vector<Entry>& entries() const { return entries_; }

  private:
    std::vector<Entry> entries_;
};

// How a command gets a run's values: through its environment, never pasted into its text.
constexpr std::string_view kUseEnvHint =
    "pass values through env (env: {NAME: \"{{ params.x }}\"}) and read \"$NAME\" in the "
    "script";

// The values a template in argv may read: fixed by the DAG or formatted by the scheduler, so a
// run's trigger cannot put arbitrary text (shell code, options, newlines) into an argument.
// run_id is chosen by whoever triggers and may start with '-'; it reaches commands as
// ORQUESTRA_RUN_ID.
bool is_static_read(std::string_view path) {
    static constexpr std::array<std::string_view, 7> kStatic = {
        "ds",       "ds_nodash",           "ts",
        "logical_date", "data_interval_start", "data_interval_end",
        "map_index"};
    static constexpr std::array<std::string_view, 4> kStaticDagRun = {
        "dag_id", "logical_date", "data_interval_start", "data_interval_end"};
    std::string_view root = path.substr(0, path.find_first_of(".["));
    if (std::find(kStatic.begin(), kStatic.end(), root) != kStatic.end()) return true;
    if (root != "dag_run" || path.size() <= root.size() || path[root.size()] != '.') return false;
    std::string_view rest = path.substr(root.size() + 1);
    std::string_view member = rest.substr(0, rest.find_first_of(".["));
    return std::find(kStaticDagRun.begin(), kStaticDagRun.end(), member) != kStaticDagRun.end();
}

// Characters a request target's path may hold as written (RFC 3986 pchar and '/', '%').
bool http_path_chars(std::string_view s) {
    constexpr std::string_view kOther = "-._~!$&'()*+,;=:@/%";
    return std::all_of(s.begin(), s.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               kOther.find(c) != std::string_view::npos;
    });
}

// An HTTP header name: an RFC 9110 token.
bool is_header_name(std::string_view s) {
    constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
    return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               kSpecials.find(c) != std::string_view::npos;
    });
}

bool is_env_name(std::string_view s) {
    if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
}

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

// YAML 1.2 core-schema resolution of a plain (unquoted) scalar.
json::value resolve_plain(const std::string& s) {
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    std::string_view digits = s;
    if (digits.front() == '+' || digits.front() == '-') digits.remove_prefix(1);
    bool has_digit =
        std::any_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!has_digit) return json::string(s);
    if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        std::string_view text = s.front() == '+' ? std::string_view(s).substr(1) : s;
        std::int64_t i = 0;
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
        if (ec == std::errc{} && p == text.data() + text.size()) return i;
        std::uint64_t u = 0;
        auto [pu, ecu] = std::from_chars(text.data(), text.data() + text.size(), u);
        if (ecu == std::errc{} && pu == text.data() + text.size()) return u;
    }
    bool float_chars = (is_ascii_digit(digits.front()) || digits.front() == '.') &&
                       std::all_of(digits.begin(), digits.end(), [](char c) {
                           return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' ||
                                  c == '+' || c == '-';
                       });
    if (float_chars) {
        std::string_view text = s.front() == '+' ? std::string_view(s).substr(1) : s;
        double d = 0;
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
        if (ec == std::errc{} && p == text.data() + text.size() && std::isfinite(d)) return d;
    }
    return json::string(s);
}

class Loader {
  public:
    Loader(std::string_view fileloc, std::size_t text_bytes)
        : fileloc_(fileloc), max_json_nodes_(max_json_nodes(text_bytes)) {}

    Dag build(const YAML::Node& root);

  private:
    // ---- scalars ----
    static const std::string& scalar(const Entry& e, std::string_view what) {
        if (!e.value.IsScalar()) {
            fail(e.value_line,
                 fmt::format("{} must be a string, got a {}", what, type_name(e.value)));
        }
        return e.value.Scalar();
    }
    static bool as_bool(const Entry& e, std::string_view what) {
        if (e.value.IsScalar()) {
            json::value v = resolve_plain(e.value.Scalar());
            if (v.is_bool()) return v.get_bool();
        }
        fail(e.value_line, fmt::format("{} must be true or false", what));
    }
    static std::int64_t as_int(const Entry& e, std::string_view what, std::int64_t min,
                               std::int64_t max) {
        std::optional<long long> n;
        if (e.value.IsScalar()) n = parse_int(trim(e.value.Scalar()));
        if (!n) fail(e.value_line, fmt::format("{} must be an integer", what));
        if (*n < min || *n > max) {
            fail(e.value_line,
                 fmt::format("{} must be between {} and {}, got {}", what, min, max, *n));
        }
        return *n;
    }
    static Millis as_duration(const Entry& e, std::string_view what, bool allow_zero) {
        Result<Millis> d = parse_duration(scalar(e, what));
        if (!d) fail(e.value_line, fmt::format("{}: {}", what, d.error().message));
        if (*d == 0 && !allow_zero)
            fail(e.value_line, fmt::format("{} must be longer than zero", what));
        return *d;
    }
    static Millis as_datetime(const Entry& e, std::string_view what) {
        Result<Millis> t = parse_datetime(scalar(e, what));
        if (!t) fail(e.value_line, fmt::format("{}: {}", what, t.error().message));
        return *t;
    }
    // A list of strings, or a single string. Returns each item with its line.
    static std::vector<std::pair<std::string, int>> as_string_list(const Entry& e,
                                                                   std::string_view what) {
        std::vector<std::pair<std::string, int>> out;
        if (e.value.IsScalar()) {
            out.emplace_back(e.value.Scalar(), e.value_line);
            return out;
        }
        if (!e.value.IsSequence()) {
            fail(e.value_line,
                 fmt::format("{} must be a list of strings, got a {}", what, type_name(e.value)));
        }
        for (const YAML::Node& item : e.value) {
            int line = line_of(item, e.value_line);
            if (!item.IsScalar()) {
                fail(line, fmt::format("{} must be a list of strings, got a {} in it", what,
                                       type_name(item)));
            }
            out.emplace_back(item.Scalar(), line);
        }
        return out;
    }

    // ---- JSON and templates ----
    json::value to_json(const YAML::Node& n, int depth, int fallback_line) {
        int line = line_of(n, fallback_line);
        if (++json_nodes_ > max_json_nodes_) {
            fail(line,
                 fmt::format("more than {} values (are aliases expanding?)", max_json_nodes_));
        }
        if (depth > kMaxJsonDepth)
            fail(line, fmt::format("nested deeper than {} levels", kMaxJsonDepth));
        switch (n.Type()) {
            case YAML::NodeType::Scalar: {
                const std::string& tag = n.Tag();
                if (tag == "!" || tag == "tag:yaml.org,2002:str") return json::string(n.Scalar());
                return resolve_plain(n.Scalar());
            }
            case YAML::NodeType::Sequence: {
                json::array arr;
                for (const YAML::Node& item : n) arr.push_back(to_json(item, depth + 1, line));
                return arr;
            }
            case YAML::NodeType::Map: {
                json::object obj;
                for (auto it = n.begin(); it != n.end(); ++it) {
                    const YAML::Node k = it->first;  // copied out of a temporary pair
                    int key_line = line_of(k, line);
                    if (!k.IsScalar()) fail(key_line, "keys of a mapping must be strings");
                    const std::string key = k.Scalar();
                    if (obj.contains(key)) fail(key_line, fmt::format("duplicate key '{}'", key));
                    obj[key] = to_json(it->second, depth + 1, key_line);
                }
                return obj;
            }
            case YAML::NodeType::Null:
            case YAML::NodeType::Undefined:
                break;
        }
        return nullptr;
    }

    void check_names(const std::vector<std::string>& roots, int line, std::string_view where) {
        const std::vector<std::string>& known = context_names();
        for (const std::string& r : roots) {
            if (callback_names_ && r == "callback") continue;
            if (std::find(known.begin(), known.end(), r) == known.end()) {
                std::vector<std::string_view> names(known.begin(), known.end());
                fail(line,
                     fmt::format("bad template in {}: unknown name '{}' (templates can use {})",
                                 where, r, join(names)));
            }
        }
    }

    Template compile_template(std::string_view text, int line, std::string_view where) {
        Result<Template> t = Template::compile(text);
        if (!t) fail(line, fmt::format("bad template in {}: {}", where, t.error().message));
        check_names(t->root_names(), line, where);
        return std::move(*t);
    }

    Template template_of(const Entry& e, std::string_view where) {
        return compile_template(scalar(e, where), e.value_line, where);
    }

    enum class Names { kAny, kEnv, kHeader };
    std::map<std::string, Template> template_map(const Entry& e, std::string_view where,
                                                 Names names) {
        std::map<std::string, Template> out;
        MapView m(e.value, where, e.value_line);
        for (const Entry& item : m.entries()) {
            std::string item_where = fmt::format("{}.{}", where, item.key);
            if (item.key.empty()) fail(item.line, fmt::format("empty name in {}", where));
            if (names == Names::kEnv && !is_env_name(item.key)) {
                fail(item.line,
                     fmt::format("bad environment variable name '{}' in {}", item.key, where));
            }
            if (names == Names::kHeader && !is_header_name(item.key)) {
                fail(item.line, fmt::format("bad header name '{}' in {}: use letters, digits and "
                                            "!#$%&'*+-.^_`|~",
                                            item.key, where));
            }
            if (!item.value.IsScalar() && !item.is_null()) {
                fail(item.value_line, fmt::format("{} must be a string, got a {}", item_where,
                                                  type_name(item.value)));
            }
            std::string text = item.is_null() ? std::string() : item.value.Scalar();
            out.emplace(item.key, compile_template(text, item.value_line, item_where));
        }
        return out;
    }

    // ---- sections ----
    DefaultArgs parse_default_args(const Entry* e);
    // A pool's name: an id, as store/pools.hpp checks it.
    std::string pool_name(const Entry& e, const std::string& what) {
        std::string name = scalar(e, what);
        if (!is_valid_id(name)) {
            fail(e.value_line, fmt::format("{} must be a pool name of 1 to 250 letters, digits, "
                                           "'_', '.' or '-', not '{}'",
                                           what, name.substr(0, 80)));
        }
        return name;
    }
    std::vector<Param> parse_params(const Entry& e);
    HttpSpec parse_http(const Entry& e, const std::string& where);
    CommandSpec parse_command(const Entry& e, const std::string& where);
    WaitForServiceSpec parse_wait(const Entry& e, const std::string& where);
    TriggerDagSpec parse_trigger(const Entry& e, const std::string& where);
    std::vector<OnService> parse_on_service(const Entry& e);
    Task parse_task(const Entry& e, const DefaultArgs& defaults, std::vector<int>& upstream_lines);
    // on_failure / on_success / on_retry: one callback or a list of them.
    std::vector<Callback> parse_callbacks(const Entry& e, const std::string& where);
    Callback parse_callback(const YAML::Node& node, int line, const std::string& where);
    void parse_callback_events(const MapView& m, const std::string& where, bool with_retry,
                               Callbacks& out);
    void parse_expand(const Entry& e, Task& t, const std::string& where);
    static void sort_tasks(Dag& dag, std::vector<std::vector<int>>& upstream_lines);

    std::string fileloc_;
    std::size_t max_json_nodes_;
    std::size_t json_nodes_ = 0;
    bool callback_names_ = false;  // parsing a callback: templates may read `callback`
};

DefaultArgs Loader::parse_default_args(const Entry* e) {
    DefaultArgs d;
    if (e == nullptr) return d;
    MapView m(e->value, "default_args", e->line, kDefaultArgsKeys);
    if (const Entry* x = m.find("owner")) d.owner = scalar(*x, "default_args.owner");
    if (const Entry* x = m.find("retries")) {
        d.retries = static_cast<int>(as_int(*x, "default_args.retries", 0, 1000));
    }
    if (const Entry* x = m.find("retry_delay"))
        d.retry_delay = as_duration(*x, "default_args.retry_delay", true);
    if (const Entry* x = m.find("retry_exponential_backoff")) {
        d.retry_exponential_backoff = as_bool(*x, "default_args.retry_exponential_backoff");
    }
    if (const Entry* x = m.find("max_retry_delay")) {
        d.max_retry_delay = as_duration(*x, "default_args.max_retry_delay", false);
    }
    if (const Entry* x = m.find("execution_timeout")) {
        d.execution_timeout = as_duration(*x, "default_args.execution_timeout", false);
    }
    parse_callback_events(m, "default_args", true, d.callbacks);
    if (const Entry* x = m.find("pool")) d.pool = pool_name(*x, "default_args.pool");
    if (const Entry* x = m.find("pool_slots")) {
        d.pool_slots = static_cast<int>(as_int(*x, "default_args.pool_slots", 1, kMaxPoolSlots));
    }
    return d;
}

std::vector<Param> Loader::parse_params(const Entry& e) {
    std::vector<Param> out;
    MapView m(e.value, "params", e.line, {}, "param");
    for (const Entry& p : m.entries()) {
        if (!is_valid_id(p.key)) {
            fail(p.line,
                 fmt::format("bad param name '{}': use 1 to 250 letters, digits, '_', '.' or '-'",
                             p.key));
        }
        json::object schema;
        std::optional<json::value> default_value;
        if (p.value.IsMap()) {
            // A mapping is a JSON Schema with an optional "default".
            schema = to_json(p.value, 0, p.value_line).as_object();
            if (json::value* d = schema.if_contains("default")) {
                default_value = std::move(*d);
                schema.erase("default");
            }
        } else {
            // Anything else is the default value of a param without a schema.
            default_value = to_json(p.value, 0, p.value_line);
        }
        Result<Param> param = make_param(p.key, std::move(schema), std::move(default_value));
        if (!param) fail(p.line, param.error().message);
        out.push_back(std::move(*param));
    }
    return out;
}

HttpSpec Loader::parse_http(const Entry& e, const std::string& where) {
    HttpSpec h;
    std::string what = where + " http";
    MapView m(e.value, what, e.line, kHttpKeys);
    const Entry* service = m.find("service");
    const Entry* url = m.find("url");
    const Entry* connection = m.find("connection");
    if (connection != nullptr) {
        if (service != nullptr) {
            fail(service->line, fmt::format("{} has both service and connection; use one", what));
        }
        h.connection = scalar(*connection, what + ".connection");
        if (!is_valid_id(*h.connection)) {
            fail(connection->value_line,
                 fmt::format("bad connection id '{}' in {} (letters, digits, '_', '.', '-')",
                             *h.connection, what));
        }
        if (url != nullptr) {
            h.url = scalar(*url, what + ".url");
            if (!h.url->starts_with('/') || !http_path_chars(*h.url)) {
                fail(url->value_line,
                     fmt::format("{}.url must be a path ('/...') with a connection, which gives "
                                 "the scheme and host; got '{}'",
                                 what, *h.url));
            }
        }
    } else if ((service == nullptr) == (url == nullptr)) {
        fail(e.line,
             fmt::format("{} needs exactly one of service (a registry name), url and connection",
                         what));
    }
    if (connection != nullptr) {
        // Set above.
    } else if (service != nullptr) {
        h.service = scalar(*service, what + ".service");
        if (!is_valid_id(*h.service)) {
            fail(service->value_line, fmt::format("bad service name '{}' in {}", *h.service, what));
        }
    } else {
        h.url = scalar(*url, what + ".url");
        auto parsed = boost::urls::parse_absolute_uri(*h.url);
        if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") ||
            parsed->encoded_host().empty()) {
            fail(url->value_line,
                 fmt::format("{}.url must be an absolute http or https URL, got '{}'", what,
                             *h.url));
        }
    }
    if (const Entry* x = m.find("method")) {
        h.method = to_upper(scalar(*x, what + ".method"));
        if (std::find(kMethods.begin(), kMethods.end(), h.method) == kMethods.end()) {
            fail(x->value_line,
                 fmt::format("unknown HTTP method '{}' in {}", x->value.Scalar(), what));
        }
    }
    if (const Entry* x = m.find("path")) {
        const std::string& text = scalar(*x, what + ".path");
        // Each value is put in as one encoded path segment, so only the file's own text can
        // start the path.
        if (!text.empty() && text.front() != '/') {
            fail(x->value_line, fmt::format("{}.path must start with '/', got '{}'", what, text));
        }
        h.path = template_of(*x, what + ".path");
    } else {
        h.path = compile_template(h.service ? "/" : "", e.line, what + ".path");
    }
    if (const Entry* x = m.find("query")) h.query = template_map(*x, what + ".query", Names::kAny);
    if (const Entry* x = m.find("headers")) h.headers = template_map(*x, what + ".headers", Names::kHeader);
    const Entry* json_entry = m.find("json");
    const Entry* body = m.find("body");
    if (json_entry != nullptr && body != nullptr) {
        fail(body->line, fmt::format("{} has both json and body; use one", what));
    }
    if (json_entry != nullptr) {
        json::value tree = to_json(json_entry->value, 0, json_entry->value_line);
        Result<TemplateTree> t = TemplateTree::compile(tree);
        if (!t) {
            fail(json_entry->value_line,
                 fmt::format("bad template in {}.json: {}", what, t.error().message));
        }
        check_names(t->root_names(), json_entry->value_line, what + ".json");
        h.json = std::move(*t);
    }
    if (body != nullptr) h.body = template_of(*body, what + ".body");
    if (const Entry* x = m.find("timeout")) h.timeout = as_duration(*x, what + ".timeout", false);
    if (const Entry* x = m.find("attempt_timeout")) {
        h.attempt_timeout = as_duration(*x, what + ".attempt_timeout", false);
        if (*h.attempt_timeout > h.timeout) {
            fail(x->value_line, fmt::format("{}.attempt_timeout is longer than its timeout", what));
        }
    }
    if (const Entry* x = m.find("expected_status")) {
        std::vector<YAML::Node> items;
        if (x->value.IsSequence()) {
            for (const YAML::Node& n : x->value) items.push_back(n);
        } else {
            items.push_back(x->value);
        }
        for (const YAML::Node& n : items) {
            std::optional<long long> code;
            if (n.IsScalar()) code = parse_int(n.Scalar());
            if (!code || *code < 100 || *code > 599) {
                fail(line_of(n, x->value_line),
                     fmt::format("{}.expected_status must hold HTTP status codes (100-599)", what));
            }
            h.expected_status.push_back(static_cast<int>(*code));
        }
    }
    return h;
}

CommandSpec Loader::parse_command(const Entry& e, const std::string& where) {
    CommandSpec c;
    std::string what = where + " command";
    auto set_script = [&](const Entry& x) {
        const std::string& text = scalar(x, what + ".script");
        // The script runs as written. Text that reads as a template using the run's values
        // ("{{ params.x }}") is refused, since the author surely expected it to be filled in;
        // other braces ("docker inspect --format '{{.State}}'") are left alone.
        Result<Template> looks_like = Template::compile(text);
        const std::vector<std::string>& known = context_names();
        if (looks_like && std::any_of(looks_like->root_names().begin(),
                                      looks_like->root_names().end(), [&](const std::string& n) {
                                          return std::find(known.begin(), known.end(), n) !=
                                                     known.end() ||
                                                 (callback_names_ && n == "callback");
                                      })) {
            fail(x.value_line, fmt::format("{}.script is not a template: {}", what, kUseEnvHint));
        }
        if (trim(text).empty()) fail(x.value_line, fmt::format("{}.script is empty", what));
        c.script = text;
    };
    auto set_argv = [&](const Entry& x) {
        if (!x.value.IsSequence() || x.value.size() == 0) {
            fail(x.value_line, fmt::format("{}.argv must be a non-empty list", what));
        }
        std::size_t i = 0;
        for (const YAML::Node& item : x.value) {
            int line = line_of(item, x.value_line);
            std::string item_where = fmt::format("{}.argv[{}]", what, i++);
            if (!item.IsScalar()) fail(line, fmt::format("{} must be a string", item_where));
            if (c.argv.size() == kMaxArgvItems) {
                fail(line, fmt::format("{}.argv has more than {} items", what, kMaxArgvItems));
            }
            Template arg = compile_template(item.Scalar(), line, item_where);
            // Whatever the program, an argument may be code (sh -c, python3 -c) or an option:
            // values a run may set never go into one.
            for (const std::string& read : arg.read_paths()) {
                if (!is_static_read(read)) {
                    fail(line, fmt::format("{} uses '{}', which a run may set: {}", item_where,
                                           read, kUseEnvHint));
                }
            }
            c.argv.push_back(std::move(arg));
        }
    };
    // Shorthands: a list is argv, a string is a script.
    if (e.value.IsSequence()) {
        set_argv(e);
        return c;
    }
    if (e.value.IsScalar()) {
        set_script(e);
        return c;
    }
    MapView m(e.value, what, e.line, kCommandKeys);
    const Entry* argv = m.find("argv");
    const Entry* script = m.find("script");
    if ((argv == nullptr) == (script == nullptr)) {
        fail(e.line, fmt::format("{} needs exactly one of argv and script", what));
    }
    if (argv != nullptr) set_argv(*argv);
    if (script != nullptr) set_script(*script);
    if (const Entry* x = m.find("env")) c.env = template_map(*x, what + ".env", Names::kEnv);
    if (const Entry* x = m.find("timeout")) c.timeout = as_duration(*x, what + ".timeout", false);
    if (const Entry* x = m.find("cwd")) {
        c.cwd = scalar(*x, what + ".cwd");
        if (c.cwd->empty()) fail(x->value_line, fmt::format("{}.cwd is empty", what));
    }
    return c;
}

std::vector<OnService> Loader::parse_on_service(const Entry& e) {
    if (!e.value.IsSequence()) {
        fail(e.value_line, fmt::format("on_service must be a list of mappings, got a {}",
                                       type_name(e.value)));
    }
    if (e.value.size() > kMaxOnService) {
        fail(e.value_line, fmt::format("on_service has {} entries; the limit is {}",
                                       e.value.size(), kMaxOnService));
    }
    std::vector<OnService> out;
    int index = 0;
    for (const YAML::Node& item : e.value) {
        const int line = line_of(item, e.value_line);
        const std::string what = fmt::format("on_service[{}]", index++);
        MapView m(item, what, line, kOnServiceKeys);
        if (!item.IsMap()) fail(line, fmt::format("{} must be a mapping", what));
        OnService s;
        s.line = line;
        const Entry* service = m.find("service");
        if (service == nullptr) fail(line, fmt::format("{} needs a service", what));
        s.service = scalar(*service, what + ".service");
        if (!is_valid_id(s.service) || s.service.size() > kMaxServiceNameLength) {
            fail(service->value_line,
                 fmt::format("bad service name '{}' in {}: use 1 to {} letters, digits, '_', "
                             "'.' or '-'",
                             s.service.substr(0, kMaxServiceNameLength), what,
                             kMaxServiceNameLength));
        }
        if (const Entry* x = m.find("events")) {
            for (auto& [name, name_line] : as_string_list(*x, what + ".events")) {
                if (std::find(std::begin(kServiceEvents), std::end(kServiceEvents), name) ==
                    std::end(kServiceEvents)) {
                    fail(name_line,
                         fmt::format("unknown event '{}' in {}.events (use registered, up, "
                                     "down, out_of_service, cancelled or evicted)",
                                     name.substr(0, 100), what));
                }
                if (std::find(s.events.begin(), s.events.end(), name) == s.events.end()) {
                    s.events.push_back(std::move(name));
                }
            }
        }
        if (const Entry* x = m.find("below")) {
            s.below = static_cast<int>(as_int(*x, what + ".below", 1, 100'000));
        }
        if (s.events.empty() && !s.below) {
            fail(line, fmt::format("{} needs events or below", what));
        }
        if (const Entry* x = m.find("min_interval")) {
            s.min_interval = as_duration(*x, what + ".min_interval", true);
        }
        out.push_back(std::move(s));
    }
    return out;
}

WaitForServiceSpec Loader::parse_wait(const Entry& e, const std::string& where) {
    WaitForServiceSpec w;
    std::string what = where + " wait_for_service";
    const Entry* service = &e;  // shorthand: wait_for_service: <name>
    std::optional<MapView> m;
    if (!e.value.IsScalar()) {
        m.emplace(e.value, what, e.line, kWaitKeys);
        service = m->find("service");
        if (service == nullptr) fail(e.line, fmt::format("{} needs a service", what));
    }
    w.service = scalar(*service, what + ".service");
    if (!is_valid_id(w.service)) {
        fail(service->value_line, fmt::format("bad service name '{}' in {}", w.service, what));
    }
    if (m) {
        if (const Entry* x = m->find("min_instances")) {
            w.min_instances = static_cast<int>(as_int(*x, what + ".min_instances", 1, 10'000));
        }
        if (const Entry* x = m->find("timeout"))
            w.timeout = as_duration(*x, what + ".timeout", false);
        if (const Entry* x = m->find("poke_interval")) {
            w.poke_interval = as_duration(*x, what + ".poke_interval", false);
        }
    }
    return w;
}

Callback Loader::parse_callback(const YAML::Node& node, int line, const std::string& where) {
    Callback cb;
    cb.line = line;
    if (!node.IsMap()) {
        fail(line_of(node, line),
             fmt::format("{} must be a mapping (an http call: service, url or connection; or a "
                         "command: argv or script), got a {}",
                         where, type_name(node)));
    }
    MapView m(node, where, line, kCallbackKeys);
    const Entry* http_key = nullptr;
    const Entry* command_key = nullptr;
    for (const Entry& x : m.entries()) {
        if (x.key == "service" || x.key == "url" || x.key == "connection") {
            if (http_key == nullptr) http_key = &x;
        } else if (x.key == "argv" || x.key == "script") {
            if (command_key == nullptr) command_key = &x;
        }
    }
    if (http_key != nullptr && command_key != nullptr) {
        fail(command_key->line, fmt::format("{} has both {} (an http call) and {} (a command); a "
                                            "callback does one",
                                            where, http_key->key, command_key->key));
    }
    if (http_key == nullptr && command_key == nullptr) {
        fail(line, fmt::format("{} needs a target: service, url or connection (an http call), or "
                               "argv or script (a command)",
                               where));
    }
    // The keys of the other kind are refused by the kind's own parser, naming them.
    Entry whole;
    whole.key = where;
    whole.value = node;
    whole.line = line;
    whole.value_line = line;
    const bool was = callback_names_;
    callback_names_ = true;
    if (http_key != nullptr) {
        for (const Entry& x : m.entries()) {
            if (x.key == "env" || x.key == "cwd") {
                fail(x.line, fmt::format("unknown key '{}' in {}: an http callback takes service, "
                                         "url or connection, method, path, query, headers, json "
                                         "or body, timeout, attempt_timeout and expected_status",
                                         x.key, where));
            }
        }
        HttpSpec h = parse_http(whole, where);
        if (m.find("method") == nullptr) h.method = "POST";
        cb.target = std::move(h);
    } else {
        for (const Entry& x : m.entries()) {
            if (std::find(kCommandKeys.begin(), kCommandKeys.end(), x.key) == kCommandKeys.end()) {
                fail(x.line, fmt::format("unknown key '{}' in {}: a command callback takes argv or "
                                         "script, env, timeout and cwd",
                                         x.key, where));
            }
        }
        CommandSpec c = parse_command(whole, where);
        if (m.find("timeout") == nullptr) c.timeout = 30'000;
        cb.target = std::move(c);
    }
    callback_names_ = was;
    auto reads = [&](const std::vector<std::string>& paths) {
        if (auto r = add_secret_reads(paths, cb.secret_reads); !r) {
            fail(line, fmt::format("bad template in {}: {}", where, r.error().message));
        }
    };
    if (const auto* h = std::get_if<HttpSpec>(&cb.target)) {
        reads(h->path.read_paths());
        for (const auto& [k, v] : h->query) reads(v.read_paths());
        for (const auto& [k, v] : h->headers) reads(v.read_paths());
        if (h->json) reads(h->json->read_paths());
        if (h->body) reads(h->body->read_paths());
        auto& conns = cb.secret_reads.connections;
        if (h->connection && std::find(conns.begin(), conns.end(), *h->connection) == conns.end()) {
            conns.push_back(*h->connection);
        }
    } else {
        const auto& c = std::get<CommandSpec>(cb.target);
        for (const auto& a : c.argv) reads(a.read_paths());
        for (const auto& [k, v] : c.env) reads(v.read_paths());
    }
    return cb;
}

std::vector<Callback> Loader::parse_callbacks(const Entry& e, const std::string& where) {
    std::vector<Callback> out;
    if (!e.value.IsSequence()) {
        out.push_back(parse_callback(e.value, e.value_line, where));
        return out;
    }
    if (e.value.size() == 0) fail(e.value_line, fmt::format("{} is an empty list", where));
    if (e.value.size() > kMaxCallbacksPerEvent) {
        fail(e.value_line, fmt::format("{} has more than {} callbacks", where,
                                       kMaxCallbacksPerEvent));
    }
    std::size_t i = 0;
    for (const YAML::Node& item : e.value) {
        out.push_back(parse_callback(item, line_of(item, e.value_line),
                                     fmt::format("{}[{}]", where, i++)));
    }
    return out;
}

void Loader::parse_callback_events(const MapView& m, const std::string& where, bool with_retry,
                                   Callbacks& out) {
    for (std::string_view event : kCallbackEvents) {
        if (event == "on_retry" && !with_retry) continue;
        const Entry* x = m.find_any(event);
        if (x == nullptr) continue;
        if (x->is_null()) fail(x->line, fmt::format("{} {} is empty", where, event));
        auto parsed =
            parse_callbacks(*x, where.empty() ? std::string(event) : fmt::format("{} {}", where, event));
        if (event == "on_failure") out.on_failure = std::move(parsed);
        if (event == "on_success") out.on_success = std::move(parsed);
        if (event == "on_retry") out.on_retry = std::move(parsed);
    }
}

TriggerDagSpec Loader::parse_trigger(const Entry& e, const std::string& where) {
    TriggerDagSpec g;
    std::string what = where + " trigger_dag";
    const Entry* dag_id = &e;  // shorthand: trigger_dag: <dag_id>
    std::optional<MapView> m;
    if (!e.value.IsScalar()) {
        m.emplace(e.value, what, e.line, kTriggerKeys);
        dag_id = m->find("dag_id");
        if (dag_id == nullptr) fail(e.line, fmt::format("{} needs a dag_id", what));
    }
    const std::string& id_text = scalar(*dag_id, what + ".dag_id");
    g.dag_id = template_of(*dag_id, what + ".dag_id");
    if (g.dag_id.is_constant()) {
        if (!is_valid_id(id_text)) {
            fail(dag_id->value_line,
                 fmt::format("bad dag_id '{}' in {}: use 1 to 250 letters, digits, '_', '.' or "
                             "'-'",
                             id_text, what));
        }
        g.literal_dag_id = id_text;
    }
    if (!m) return g;
    if (const Entry* x = m->find("run_id")) g.run_id = template_of(*x, what + ".run_id");
    if (const Entry* x = m->find("conf")) {
        if (!x->value.IsMap()) {
            fail(x->value_line, fmt::format("{}.conf must be a mapping, got a {}", what,
                                            type_name(x->value)));
        }
        json::value tree = to_json(x->value, 0, x->value_line);
        Result<TemplateTree> t = TemplateTree::compile(tree);
        if (!t) {
            fail(x->value_line,
                 fmt::format("bad template in {}.conf: {}", what, t.error().message));
        }
        check_names(t->root_names(), x->value_line, what + ".conf");
        g.conf = std::move(*t);
    }
    if (const Entry* x = m->find("wait")) g.wait = as_bool(*x, what + ".wait");
    if (const Entry* x = m->find("timeout")) {
        g.timeout = as_duration(*x, what + ".timeout", false);
        if (!g.wait) fail(x->line, fmt::format("{}.timeout needs wait: true", what));
    }
    auto states = [&](const Entry& x, std::string_view name) {
        std::vector<std::string> out;
        for (auto& [state, line] : as_string_list(x, fmt::format("{}.{}", what, name))) {
            if (state != "success" && state != "failed") {
                fail(line, fmt::format("{}.{} may hold success and failed (the states a run ends "
                                       "in), not '{}'",
                                       what, name, state));
            }
            if (std::find(out.begin(), out.end(), state) == out.end()) out.push_back(state);
        }
        if (!g.wait) fail(x.line, fmt::format("{}.{} needs wait: true", what, name));
        return out;
    };
    if (const Entry* x = m->find("allowed_states")) g.allowed_states = states(*x, "allowed_states");
    // A run ends success or failed: every end state not allowed fails the task, and
    // failed_states, when given, only has to agree.
    const Entry* failed = m->find("failed_states");
    if (failed != nullptr) g.failed_states = states(*failed, "failed_states");
    g.failed_states.erase(std::remove_if(g.failed_states.begin(), g.failed_states.end(),
                                         [&](const std::string& s) {
                                             bool allowed = std::find(g.allowed_states.begin(),
                                                                      g.allowed_states.end(),
                                                                      s) != g.allowed_states.end();
                                             if (allowed && failed != nullptr) {
                                                 fail(failed->value_line,
                                                      fmt::format("{}: '{}' is in both "
                                                                  "allowed_states and "
                                                                  "failed_states",
                                                                  what, s));
                                             }
                                             return allowed;
                                         }),
                          g.failed_states.end());
    if (g.allowed_states.empty()) {
        fail(e.line, fmt::format("{}.allowed_states is empty", what));
    }
    return g;
}

// What a task's templates read of `expand`: only a mapped task has it, and only its own keys.
void check_expand_reads(const Task& t, const std::vector<std::string>& paths, int line,
                        const std::string& where) {
    for (const std::string& path : paths) {
        std::string_view p = path;
        if (p.substr(0, p.find_first_of(".[")) != "expand") continue;
        if (!t.is_mapped()) {
            fail(line, fmt::format("bad template in {}: '{}' needs the task to have expand", where,
                                   path));
        }
        if (p.size() <= 7 || p[6] != '.') continue;  // expand whole, or expand[k] computed
        std::string_view key = p.substr(7);
        key = key.substr(0, key.find_first_of(".["));
        bool known = std::any_of(t.expand.begin(), t.expand.end(),
                                 [&](const ExpandArg& a) { return a.key == key; });
        if (!known) {
            std::vector<std::string_view> keys;
            for (const auto& a : t.expand) keys.push_back(a.key);
            fail(line, fmt::format("bad template in {}: '{}' names no key of its expand ({})",
                                   where, path, join(keys)));
        }
    }
}

Task Loader::parse_task(const Entry& e, const DefaultArgs& defaults,
                        std::vector<int>& upstream_lines) {
    Task t;
    t.task_id = e.key;
    t.line = e.line;
    if (!is_valid_id(t.task_id)) {
        fail(e.line, fmt::format("bad task id '{}': use 1 to 250 letters, digits, '_', '.' or '-'",
                                 t.task_id));
    }
    std::string where = fmt::format("task '{}'", t.task_id);
    MapView m(e.value, where, e.line, kTaskKeys);

    if (const Entry* x = m.find("upstream")) {
        for (auto& [id, line] : as_string_list(*x, where + " upstream")) {
            if (std::find(t.upstream.begin(), t.upstream.end(), id) != t.upstream.end()) continue;
            t.upstream.push_back(std::move(id));
            upstream_lines.push_back(line);
        }
    }
    if (const Entry* x = m.find("trigger_rule")) {
        std::optional<TriggerRule> rule = parse_trigger_rule(scalar(*x, where + " trigger_rule"));
        if (!rule) {
            fail(x->value_line,
                 fmt::format("unknown trigger_rule '{}' in {} (use all_success, all_failed, "
                             "all_done, one_success, one_failed, none_failed, none_skipped or "
                             "always)",
                             x->value.Scalar(), where));
        }
        t.trigger_rule = *rule;
    }
    if (const Entry* x = m.find("when")) {
        // `when` is an expression; the braces are optional.
        std::string text = scalar(*x, where + " when");
        if (text.find("{{") == std::string::npos) text = "{{ " + text + " }}";
        t.condition = compile_template(text, x->value_line, where + " when");
        if (!t.condition->is_single_expression()) {
            // Text around an expression would make a string, and a non-empty string is true.
            fail(x->value_line,
                 fmt::format("{} when must be one expression, not text: '{}'", where, text));
        }
    }
    t.retries = defaults.retries;
    t.retry_delay = defaults.retry_delay;
    t.retry_exponential_backoff = defaults.retry_exponential_backoff;
    t.max_retry_delay = defaults.max_retry_delay;
    t.execution_timeout = defaults.execution_timeout;
    t.owner = defaults.owner;
    if (const Entry* x = m.find("retries")) {
        t.retries = static_cast<int>(as_int(*x, where + " retries", 0, 1000));
    }
    if (const Entry* x = m.find("retry_delay"))
        t.retry_delay = as_duration(*x, where + " retry_delay", true);
    if (const Entry* x = m.find("retry_exponential_backoff")) {
        t.retry_exponential_backoff = as_bool(*x, where + " retry_exponential_backoff");
    }
    if (const Entry* x = m.find("max_retry_delay")) {
        t.max_retry_delay = as_duration(*x, where + " max_retry_delay", false);
    }
    if (const Entry* x = m.find("execution_timeout")) {
        t.execution_timeout = as_duration(*x, where + " execution_timeout", false);
    }
    if (const Entry* x = m.find("owner")) t.owner = scalar(*x, where + " owner");
    t.pool = defaults.pool;
    t.pool_slots = defaults.pool_slots;
    if (const Entry* x = m.find("pool")) t.pool = pool_name(*x, where + " pool");
    if (const Entry* x = m.find("pool_slots")) {
        t.pool_slots = static_cast<int>(as_int(*x, where + " pool_slots", 1, kMaxPoolSlots));
    }
    if (const Entry* x = m.find("doc")) t.doc = scalar(*x, where + " doc");
    t.callbacks = defaults.callbacks;
    parse_callback_events(m, where, true, t.callbacks);
    if (const Entry* x = m.find_any("expand")) parse_expand(*x, t, where);

    const Entry* kind = nullptr;
    for (std::string_view k : kTaskKinds) {
        const Entry* x = m.find_any(k);
        if (x == nullptr) continue;
        if (kind != nullptr) {
            fail(x->line, fmt::format("{} has both '{}' and '{}'; a task does one thing", where,
                                      kind->key, x->key));
        }
        kind = x;
    }
    if (kind == nullptr) {
        fail(e.line, fmt::format("{} needs one of http, command, wait_for_service or trigger_dag",
                                 where));
    }
    if (kind->is_null()) fail(kind->line, fmt::format("{} {} is empty", where, kind->key));
    if (kind->key == "http")
        t.kind = parse_http(*kind, where);
    else if (kind->key == "command")
        t.kind = parse_command(*kind, where);
    else if (kind->key == "trigger_dag")
        t.kind = parse_trigger(*kind, where);
    else
        t.kind = parse_wait(*kind, where);
    if (t.is_mapped() && kind->key == "trigger_dag") {
        fail(m.find_any("expand")->line,
             fmt::format("{}: expand cannot map a trigger_dag task (map the tasks of the DAG it "
                         "triggers instead)",
                         where));
    }
    // What the scheduler looks up before rendering: every read must name its key.
    auto reads = [&](const std::vector<std::string>& paths, int line) {
        if (auto r = add_secret_reads(paths, t.secret_reads); !r) {
            fail(line, fmt::format("bad template in {}: {}", where, r.error().message));
        }
        check_expand_reads(t, paths, line, where);
    };
    if (t.condition) reads(t.condition->read_paths(), e.line);
    if (const auto* h = std::get_if<HttpSpec>(&t.kind)) {
        reads(h->path.read_paths(), e.line);
        for (const auto& [k, v] : h->query) reads(v.read_paths(), e.line);
        for (const auto& [k, v] : h->headers) reads(v.read_paths(), e.line);
        if (h->json) reads(h->json->read_paths(), e.line);
        if (h->body) reads(h->body->read_paths(), e.line);
        if (h->connection &&
            std::find(t.secret_reads.connections.begin(), t.secret_reads.connections.end(),
                      *h->connection) == t.secret_reads.connections.end()) {
            t.secret_reads.connections.push_back(*h->connection);
        }
    } else if (const auto* c = std::get_if<CommandSpec>(&t.kind)) {
        for (const auto& a : c->argv) reads(a.read_paths(), e.line);
        for (const auto& [k, v] : c->env) reads(v.read_paths(), e.line);
    } else if (const auto* g = std::get_if<TriggerDagSpec>(&t.kind)) {
        reads(g->dag_id.read_paths(), e.line);
        if (g->run_id) reads(g->run_id->read_paths(), e.line);
        if (g->conf) reads(g->conf->read_paths(), e.line);
    }
    return t;
}

// `expand: {key: value, ...}`: each value a template that renders to a list, or a literal
// list. A value reading another task's output needs that task upstream (its output is known
// only once it has run).
void Loader::parse_expand(const Entry& e, Task& t, const std::string& where) {
    const std::string what = where + " expand";
    if (e.is_null()) fail(e.line, fmt::format("{} is empty", what));
    MapView m(e.value, what, e.line);
    if (m.entries().empty()) fail(e.line, fmt::format("{} is empty", what));
    for (const Entry& x : m.entries()) {
        const std::string key_where = fmt::format("{}.{}", what, x.key);
        if (!is_valid_id(x.key) || x.key.find('.') != std::string::npos) {
            fail(x.line, fmt::format("bad key '{}' in {}: use letters, digits, '_' or '-'", x.key,
                                     what));
        }
        if (x.is_null()) fail(x.line, fmt::format("{} is empty", key_where));
        if (x.value.IsScalar()) {
            Template one = compile_template(x.value.Scalar(), x.value_line, key_where);
            if (one.is_constant() || !one.is_single_expression()) {
                fail(x.value_line, fmt::format("{} must be one {{{{ expression }}}} that renders "
                                               "to a list, or a list, not '{}'",
                                               key_where, x.value.Scalar()));
            }
        } else if (!x.value.IsSequence()) {
            fail(x.value_line, fmt::format("{} must be a template that renders to a list, or a "
                                           "list, got a {}",
                                           key_where, type_name(x.value)));
        }
        json::value tree = to_json(x.value, 0, x.value_line);
        Result<TemplateTree> compiled = TemplateTree::compile(tree);
        if (!compiled) {
            fail(x.value_line,
                 fmt::format("bad template in {}: {}", key_where, compiled.error().message));
        }
        check_names(compiled->root_names(), x.value_line, key_where);
        for (const std::string& read : compiled->read_paths()) {
            std::string_view root = std::string_view(read).substr(0, read.find_first_of(".["));
            if (root == "expand" || root == "map_index") {
                fail(x.value_line, fmt::format("{} cannot read '{}': it is what expand makes",
                                               key_where, read));
            }
            if (root != "tasks" || read.size() <= 6) continue;
            std::string_view rest = std::string_view(read).substr(6);
            std::string id(rest.substr(0, rest.find_first_of(".[")));
            if (std::find(t.upstream.begin(), t.upstream.end(), id) == t.upstream.end()) {
                fail(x.value_line, fmt::format("{} reads the output of task '{}', which is not "
                                               "upstream of {}: add it to upstream",
                                               key_where, id, where));
            }
        }
        if (auto r = add_secret_reads(compiled->read_paths(), t.secret_reads); !r) {
            fail(x.value_line, fmt::format("bad template in {}: {}", key_where, r.error().message));
        }
        t.expand.push_back(ExpandArg{x.key, std::move(*compiled), x.line});
    }
}

// Orders tasks so that each comes after its upstream tasks, keeping file order among tasks that
// are ready together, and fills `downstream`. Fails on an unknown upstream or a cycle.
void Loader::sort_tasks(Dag& dag, std::vector<std::vector<int>>& upstream_lines) {
    std::size_t n = dag.tasks.size();
    std::unordered_map<std::string_view, std::size_t> index;
    for (std::size_t i = 0; i < n; ++i) index.emplace(dag.tasks[i].task_id, i);
    std::vector<std::vector<std::size_t>> up(n), down(n);
    std::vector<std::size_t> waiting(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const Task& t = dag.tasks[i];
        for (std::size_t j = 0; j < t.upstream.size(); ++j) {
            auto it = index.find(t.upstream[j]);
            if (it == index.end()) {
                fail(upstream_lines[i][j],
                     fmt::format("task '{}' has unknown upstream '{}'", t.task_id, t.upstream[j]));
            }
            up[i].push_back(it->second);
            down[it->second].push_back(i);
            ++waiting[i];
        }
    }
    std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
    for (std::size_t i = 0; i < n; ++i) {
        if (waiting[i] == 0) ready.push(i);
    }
    std::vector<std::size_t> order;
    order.reserve(n);
    while (!ready.empty()) {
        std::size_t i = ready.top();
        ready.pop();
        order.push_back(i);
        for (std::size_t d : down[i]) {
            if (--waiting[d] == 0) ready.push(d);
        }
    }
    if (order.size() < n) {
        // Every task left waits on another task left; walking upstream must close a loop.
        std::size_t start = 0;
        while (waiting[start] == 0) ++start;
        std::vector<std::size_t> path;
        std::unordered_map<std::size_t, std::size_t> position;
        std::size_t cur = start;
        while (!position.contains(cur)) {
            position.emplace(cur, path.size());
            path.push_back(cur);
            for (std::size_t u : up[cur]) {
                if (waiting[u] != 0) {
                    cur = u;
                    break;
                }
            }
        }
        std::vector<std::size_t> cycle(path.begin() + static_cast<std::ptrdiff_t>(position[cur]),
                                       path.end());
        std::reverse(cycle.begin(), cycle.end());  // now each task runs before the next
        std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
        std::string text;
        for (std::size_t i : cycle) text += dag.tasks[i].task_id + " -> ";
        text += dag.tasks[cycle.front()].task_id;
        fail(dag.tasks[cycle.front()].line, fmt::format("cycle between tasks: {}", text));
    }
    std::vector<Task> sorted;
    sorted.reserve(n);
    for (std::size_t i : order) sorted.push_back(std::move(dag.tasks[i]));
    dag.tasks = std::move(sorted);
    std::unordered_map<std::string, std::size_t> position_of;
    for (std::size_t i = 0; i < n; ++i) position_of.emplace(dag.tasks[i].task_id, i);
    for (std::size_t i = 0; i < n; ++i) {
        for (const std::string& u : dag.tasks[i].upstream) {
            dag.tasks[position_of.at(u)].downstream.push_back(dag.tasks[i].task_id);
        }
    }
    dag.reindex();
}

Dag Loader::build(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) {
        fail(1, "the file is empty; a DAG file is a mapping with dag_id and tasks");
    }
    if (!root.IsMap()) {
        fail(line_of(root, 1), fmt::format("the top level must be a mapping with dag_id and "
                                           "tasks, got a {}",
                                           type_name(root)));
    }
    MapView top(root, "the DAG", 1, kDagKeys);
    Dag dag;
    dag.fileloc = fileloc_;

    const Entry* id = top.find("dag_id");
    if (id == nullptr) fail(line_of(root, 1), "missing dag_id");
    dag.dag_id = scalar(*id, "dag_id");
    dag.dag_id_line = id->line;
    if (!is_valid_id(dag.dag_id)) {
        fail(id->value_line, fmt::format("bad dag_id '{}': use 1 to 250 letters, digits, '_', "
                                         "'.' or '-'",
                                         dag.dag_id));
    }
    if (const Entry* x = top.find("description")) dag.description = scalar(*x, "description");
    if (const Entry* x = top.find("doc")) dag.doc = scalar(*x, "doc");
    if (const Entry* x = top.find("start_date")) dag.start_date = as_datetime(*x, "start_date");
    if (const Entry* x = top.find("end_date")) {
        dag.end_date = as_datetime(*x, "end_date");
        if (dag.start_date && *dag.end_date < *dag.start_date) {
            fail(x->value_line, "end_date is before start_date");
        }
    }
    if (const Entry* x = top.find("schedule")) {
        Result<Schedule> s = parse_schedule(scalar(*x, "schedule"));
        if (!s) fail(x->value_line, s.error().message);
        dag.schedule = std::move(*s);
        if (dag.schedule.kind() != ScheduleKind::kNone && !dag.start_date) {
            fail(x->value_line,
                 fmt::format("schedule '{}' needs a start_date", dag.schedule.text()));
        }
    }
    if (dag.start_date) dag.schedule.set_anchor(*dag.start_date);
    if (const Entry* x = top.find("catchup")) dag.catchup = as_bool(*x, "catchup");
    if (const Entry* x = top.find("is_paused_upon_creation")) {
        dag.is_paused_upon_creation = as_bool(*x, "is_paused_upon_creation");
    }
    if (const Entry* x = top.find("max_active_runs")) {
        dag.max_active_runs = static_cast<int>(as_int(*x, "max_active_runs", 1, 100'000));
    }
    if (const Entry* x = top.find("max_active_tasks")) {
        dag.max_active_tasks = static_cast<int>(as_int(*x, "max_active_tasks", 1, 100'000));
    }
    if (const Entry* x = top.find("max_map_length")) {
        dag.max_map_length = static_cast<int>(as_int(*x, "max_map_length", 1, kMaxMapLengthCap));
    }
    if (const Entry* x = top.find("tags")) {
        for (auto& [tag, line] : as_string_list(*x, "tags")) {
            if (tag.empty() || tag.size() > 100) {
                fail(line, "tags must be 1 to 100 characters long");
            }
            if (std::find(dag.tags.begin(), dag.tags.end(), tag) == dag.tags.end()) {
                dag.tags.push_back(std::move(tag));
            }
        }
    }
    if (const Entry* x = top.find("params")) dag.params = parse_params(*x);
    if (const Entry* x = top.find("on_service")) dag.on_service = parse_on_service(*x);
    dag.default_args = parse_default_args(top.find("default_args"));
    parse_callback_events(top, "", false, dag.callbacks);

    if (const Entry* x = top.find("tasks")) {
        MapView tasks(x->value, "tasks", x->line, {}, "task");
        if (tasks.entries().size() > kMaxTasks) {
            fail(x->line,
                 fmt::format("{} tasks; the limit is {}", tasks.entries().size(), kMaxTasks));
        }
        std::vector<std::vector<int>> upstream_lines;
        dag.tasks.reserve(tasks.entries().size());
        for (const Entry& e : tasks.entries()) {
            upstream_lines.emplace_back();
            dag.tasks.push_back(parse_task(e, dag.default_args, upstream_lines.back()));
        }
        sort_tasks(dag, upstream_lines);
    }
    return dag;
}

}  // namespace

void throw_exception_from_error(const LoadFailure& failure, const boost::source_location&) {
    throw std::runtime_error(failure.reason);
}

Error to_error(const LoadFailure& failure, std::string_view fileloc) {
    std::string_view file = fileloc.empty() ? std::string_view("<dag>") : fileloc;
    if (failure.line > 0) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("{}:{}: {}", file, failure.line, failure.reason)};
    }
    return Error{ErrorCode::kInvalidArgument, fmt::format("{}: {}", file, failure.reason)};
}

LoadResult parse_dag_detailed(std::string_view yaml_text, std::string_view fileloc) {
    if (yaml_text.size() > kMaxDagFileBytes) {
        return LoadFailure{0, fmt::format("the file is {} bytes; the limit is {} (1 MiB)",
                                          yaml_text.size(), kMaxDagFileBytes)};
    }
    try {
        // A document starting where the previous one did is the parser going round in circles
        // on a stray token, not a second document.
        const std::vector<YAML::Mark> starts = DocumentStarts::of(yaml_text, 3);
        for (std::size_t i = 1; i < starts.size(); ++i) {
            if (starts[i].pos == starts[i - 1].pos) {
                fail(starts[i].line + 1, "YAML syntax error: unexpected character");
            }
        }
        if (starts.size() > 1) {
            fail(starts[1].line + 1, "a DAG file holds one YAML document; found another");
        }
        Loader loader(fileloc, yaml_text.size());
        return loader.build(starts.empty() ? YAML::Node() : YAML::Load(std::string(yaml_text)));
    } catch (const LoadError& e) {
        return LoadFailure{e.line, e.reason};
    } catch (const YAML::Exception& e) {
        int line = e.mark.is_null() ? 0 : e.mark.line + 1;
        return LoadFailure{line, fmt::format("YAML syntax error: {}", e.msg)};
    } catch (const std::bad_alloc&) {
        return LoadFailure{0, "out of memory while loading"};
    } catch (const std::exception& e) {
        return LoadFailure{0, fmt::format("unexpected error while loading: {}", e.what())};
    }
}

boost::system::result<std::string, LoadFailure> read_dag_text(const std::filesystem::path& path) {
    std::error_code ec;
    std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec) return LoadFailure{0, fmt::format("cannot read the file: {}", ec.message())};
    if (size > kMaxDagFileBytes) {
        return LoadFailure{0, fmt::format("the file is {} bytes; the limit is {} (1 MiB)", size,
                                          kMaxDagFileBytes)};
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return LoadFailure{0, "cannot open the file"};
    // Read to the end rather than trusting the size seen above: the file may be changing.
    std::string text;
    text.reserve(static_cast<std::size_t>(size));
    std::array<char, 64 * 1024> buffer{};
    while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
        text.append(buffer.data(), static_cast<std::size_t>(in.gcount()));
        if (text.size() > kMaxDagFileBytes) {
            return LoadFailure{0,
                               fmt::format("the file is larger than the limit of {} bytes (1 MiB)",
                                           kMaxDagFileBytes)};
        }
    }
    if (in.bad()) return LoadFailure{0, "cannot read the file"};
    return text;
}

LoadResult load_dag_file_detailed(const std::filesystem::path& path) {
    auto text = read_dag_text(path);
    if (!text) return text.error();
    return parse_dag_detailed(*text, path.string());
}

Result<Dag> parse_dag(std::string_view yaml_text, std::string_view fileloc) {
    LoadResult r = parse_dag_detailed(yaml_text, fileloc);
    if (!r) return to_error(r.error(), fileloc);
    return std::move(*r);
}

Result<Dag> load_dag_file(const std::filesystem::path& path) {
    LoadResult r = load_dag_file_detailed(path);
    if (!r) return to_error(r.error(), path.string());
    return std::move(*r);
}

}  // namespace orquestra::dag
