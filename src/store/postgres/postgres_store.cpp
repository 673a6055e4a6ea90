#include "store/postgres/postgres_store.hpp"

#include "core/clock.hpp"
#include "store/db_url.hpp"
#include "store/postgres/migrations.hpp"
#include "store/pools.hpp"
#include "store/schema.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pqxx/pqxx>
#include <sys/eventfd.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <array>
#include <charconv>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <thread>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace orquestra::store {

using namespace schema;  // the tables' columns, page bounds, run orders

// A statement parameter: text, or SQL NULL when unset.
struct PgParam {
    std::optional<std::string> value;
};

}  // namespace orquestra::store

// How libpqxx passes a PgParam: as its text, or as NULL.
template <>
struct pqxx::string_traits<orquestra::store::PgParam> {
    static constexpr const char* name() noexcept { return "orquestra parameter"; }
    static constexpr bool has_null() noexcept { return true; }
    static bool is_null(const orquestra::store::PgParam& p) { return !p.value.has_value(); }
    static orquestra::store::PgParam null() { return {}; }
    static void from_string(const char text[], orquestra::store::PgParam& p) { p.value = text; }
    static std::string to_string(const orquestra::store::PgParam& p) {
        return p.value.value_or(std::string());
    }
};

namespace orquestra::store {

namespace {

// Advisory lock keys (per database): one for migrate(), one for the scheduler's claim.
constexpr std::int64_t kMigrationLockKey = 0x4f52514d49475254;  // "ORQMIGRT"
constexpr std::int64_t kSchedulerLockKey = 0x4f52515343484544;  // "ORQSCHED"

// A value PostgreSQL's text cannot hold (thrown inside a call, caught at its edge).
struct InvalidValue : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Parameters in order ($1, $2, ...). libpq passes text parameters as C strings, so a NUL byte
// would silently cut a value short: such a value is refused instead.
class Params {
  public:
    Params& add(std::string_view v) {
        if (v.find('\0') != std::string_view::npos) has_nul_ = true;
        values_.push_back(PgParam{std::string(v)});
        return *this;
    }
    Params& add(const std::string& v) { return add(std::string_view(v)); }
    Params& add(const char* v) { return add(std::string_view(v)); }
    Params& add(std::int64_t v) {
        values_.push_back(PgParam{std::to_string(v)});
        return *this;
    }
    Params& add(int v) { return add(std::int64_t{v}); }
    Params& add(bool v) {
        values_.push_back(PgParam{std::string(v ? "t" : "f")});
        return *this;
    }
    Params& add(const std::optional<std::int64_t>& v) {
        if (!v) {
            values_.push_back(PgParam{});
            return *this;
        }
        return add(*v);
    }
    Params& add(const std::optional<std::string>& v) {
        if (!v) {
            values_.push_back(PgParam{});
            return *this;
        }
        return add(std::string_view(*v));
    }

    // The placeholder of the next parameter added.
    std::string next() const { return fmt::format("${}", values_.size() + 1); }
    std::size_t size() const { return values_.size(); }
    // The i-th value as added (NULL: nullopt), before any check.
    const std::optional<std::string>& raw(std::size_t i) const { return values_[i].value; }
    const std::vector<PgParam>& values() const {
        if (has_nul_) throw InvalidValue("a text value holds a NUL byte, which PostgreSQL refuses");
        return values_;
    }

  private:
    std::vector<PgParam> values_;
    bool has_nul_ = false;
};

// ---------------------------------------------------------------------------------------------
// Each table's columns are in store/schema.hpp, in the order of the bind_* and read_* functions.

// The SQL types of those columns, for the arrays that carry many rows in one statement.
constexpr std::array<std::string_view, 19> kRunTypes = {
    "text",   "text",   "text", "text", "bigint",  "bigint", "bigint", "bigint",
    "bigint", "bigint", "text", "text", "boolean", "bigint", "text",
    "text",   "text",   "text", "integer"};  // migration 9

constexpr std::array<std::string_view, 21> kTaskTypes = {
    "text",   "text",   "text",   "integer", "text", "integer", "integer",
    "bigint", "bigint", "bigint", "bigint",  "text", "text",    "text",
    "text",   "text",   "integer", "text",   "text", "text",    "integer"};

constexpr std::array<std::string_view, 13> kTryTypes = {
    "text",   "text", "text", "integer", "integer", "text", "bigint",
    "bigint", "text", "text", "text",    "text",    "text"};

static_assert(kRunTypes.size() == kRunColumns.size());
static_assert(kTaskTypes.size() == kTaskColumns.size());
static_assert(kTryTypes.size() == kTryColumns.size());

std::string column_list(std::span<const std::string_view> columns) {
    return fmt::format("{}", fmt::join(columns, ", "));
}

// "unnest($k::t1[], $k+1::t2[], ...) AS v(c1, c2, ...)": one row per array element, the
// arrays numbered from `first`.
std::string unnest_sql(std::span<const std::string_view> columns,
                       std::span<const std::string_view> types, std::size_t first) {
    std::string arrays;
    for (std::size_t i = 0; i < types.size(); ++i) {
        arrays += fmt::format("{}${}::{}[]", i == 0 ? "" : ", ", first + i, types[i]);
    }
    return fmt::format("unnest({}) AS v({})", arrays, column_list(columns));
}

// A PostgreSQL array literal of text elements: every element double-quoted with its '"' and
// '\' escaped, so any text (commas, braces, quotes) stays one element; NULL for an unset one.
std::string array_literal(const std::vector<const std::optional<std::string>*>& values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        if (!values[i]->has_value()) {
            out += "NULL";
            continue;
        }
        out += '"';
        for (char c : **values[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

// Rows bound one by one (with the bind_* functions), passed as one array per column.
class RowArrays {
  public:
    explicit RowArrays(std::size_t columns) : columns_(columns) {}

    // Adds a row: `row` holds its values in column order.
    void add(Params row) {
        if (row.size() != columns_) throw std::logic_error("a row with the wrong column count");
        rows_.push_back(std::move(row));
    }
    // Appends one array parameter per column to `p`.
    void bind(Params& p) const {
        std::vector<const std::optional<std::string>*> column(rows_.size());
        for (std::size_t c = 0; c < columns_; ++c) {
            for (std::size_t r = 0; r < rows_.size(); ++r) column[r] = &rows_[r].raw(c);
            p.add(array_literal(column));
        }
    }

  private:
    std::size_t columns_;
    std::vector<Params> rows_;
};

std::string insert_sql(std::string_view table, std::span<const std::string_view> columns) {
    std::string placeholders;
    for (std::size_t i = 0; i < columns.size(); ++i) {
        placeholders += fmt::format("{}${}", i == 0 ? "" : ", ", i + 1);
    }
    return fmt::format("INSERT INTO {} ({}) VALUES ({})", table, column_list(columns),
                       placeholders);
}

// INSERT that updates every non-key column when a row with the same key (the first key_count
// columns) exists; the row keeps its id.
std::string upsert_sql(std::string_view table, std::span<const std::string_view> columns,
                       std::size_t key_count) {
    std::string updates;
    for (std::size_t i = key_count; i < columns.size(); ++i) {
        if (!updates.empty()) updates += ", ";
        if (columns[i] == "rendered") {
            // Written when the try starts; the records of its end carry none.
            updates += fmt::format(
                "rendered = CASE WHEN EXCLUDED.rendered = '' THEN {}.rendered "
                "ELSE EXCLUDED.rendered END",
                table);
            continue;
        }
        updates += fmt::format("{0} = EXCLUDED.{0}", columns[i]);
    }
    return fmt::format("{} ON CONFLICT ({}) DO UPDATE SET {}", insert_sql(table, columns),
                       column_list(columns.first(key_count)), updates);
}

// "INSERT INTO table (columns) SELECT * FROM unnest(...) ON CONFLICT ... DO UPDATE ...": the
// upsert of upsert_sql() for every row of the arrays numbered from `first`.
std::string upsert_rows_sql(std::string_view table, std::span<const std::string_view> columns,
                            std::span<const std::string_view> types, std::size_t key_count,
                            std::size_t first) {
    const std::string single = upsert_sql(table, columns, key_count);
    const std::string conflict = single.substr(single.find(" ON CONFLICT"));
    return fmt::format("INSERT INTO {} ({}) SELECT * FROM {}{}", table, column_list(columns),
                       unnest_sql(columns, types, first), conflict);
}

// A whole commit() batch in one statement (one round trip, atomic): runs, task instances and
// tries as arrays. The foreign keys are checked at the end of the statement, so a batch may
// create a run, its tasks and their tries together.
std::string commit_batch_sql() {
    const std::size_t tasks_first = 1 + kRunColumns.size();
    const std::size_t tries_first = tasks_first + kTaskColumns.size();
    return fmt::format("WITH runs AS ({}), tasks AS ({}) {}",
                       upsert_rows_sql("dag_runs", kRunColumns, kRunTypes, 2, 1),
                       upsert_rows_sql("task_instances", kTaskColumns, kTaskTypes, 4, tasks_first),
                       upsert_rows_sql("task_tries", kTryColumns, kTryTypes, 5, tries_first));
}

// A run and its task instances in one statement; no row back when the run exists already (and
// then no task instance is written).
std::string create_run_sql() {
    const std::size_t tasks_first = 1 + kRunColumns.size();
    return fmt::format(
        "WITH run AS ({} ON CONFLICT (dag_id, run_id) DO NOTHING RETURNING id), "
        "tasks AS (INSERT INTO task_instances ({}) SELECT v.* FROM {} "
        "WHERE EXISTS (SELECT 1 FROM run)) "
        "SELECT id FROM run",
        insert_sql("dag_runs", kRunColumns), column_list(kTaskColumns),
        unnest_sql(kTaskColumns, kTaskTypes, tasks_first));
}

std::string run_select() {
    return fmt::format("SELECT id, {} FROM dag_runs", column_list(kRunColumns));
}

std::string task_select() {
    return fmt::format("SELECT {} FROM task_instances", column_list(kTaskColumns));
}

// ---------------------------------------------------------------------------------------------
// Reading fields. PostgreSQL sends integers and booleans ('t'/'f') as text.

std::int64_t int64(const pqxx::field& f) {
    std::int64_t v = 0;
    const char* text = f.c_str();
    std::from_chars(text, text + f.size(), v);
    return v;
}

std::optional<std::int64_t> opt_int64(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return int64(f);
}

bool boolean(const pqxx::field& f) { return f.size() > 0 && f.c_str()[0] == 't'; }

std::string text(const pqxx::field& f) { return std::string(f.c_str(), f.size()); }

std::optional<std::string> opt_text(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return text(f);
}

Error bad_column(std::string_view table, std::string_view column, std::string_view value) {
    return Error{ErrorCode::kInternal,
                 fmt::format("{} holds an unknown {} '{}'", table, column, value)};
}

void bind_dag(Params& p, const DagRecord& d) {
    p.add(d.dag_id).add(d.is_paused).add(d.is_active).add(d.fileloc).add(d.last_parsed);
    p.add(d.last_scheduled_logical_date);
}

DagRecord read_dag(const pqxx::row& r) {
    DagRecord d;
    d.dag_id = text(r[0]);
    d.is_paused = boolean(r[1]);
    d.is_active = boolean(r[2]);
    d.fileloc = text(r[3]);
    d.last_parsed = int64(r[4]);
    d.last_scheduled_logical_date = opt_int64(r[5]);
    return d;
}

void bind_run(Params& p, const DagRun& r) {
    p.add(r.dag_id).add(r.run_id).add(to_string(r.run_type)).add(to_string(r.state));
    p.add(r.logical_date).add(r.data_interval_start).add(r.data_interval_end);
    p.add(r.queued_at).add(r.start_date).add(r.end_date).add(r.conf_json).add(r.note);
    p.add(r.external_trigger).add(r.last_scheduling_decision).add(r.owner);
    p.add(r.parent_dag_id).add(r.parent_run_id).add(r.parent_task_id).add(r.trigger_depth);
}

Result<DagRun> read_run(const pqxx::row& row) {
    DagRun r;
    r.id = int64(row[0]);
    r.dag_id = text(row[1]);
    r.run_id = text(row[2]);
    const std::string run_type = text(row[3]);
    const std::string state = text(row[4]);
    auto parsed_type = parse_run_type(run_type);
    if (!parsed_type) return bad_column("dag_runs", "run_type", run_type);
    auto parsed_state = parse_run_state(state);
    if (!parsed_state) return bad_column("dag_runs", "state", state);
    r.run_type = *parsed_type;
    r.state = *parsed_state;
    r.logical_date = int64(row[5]);
    r.data_interval_start = opt_int64(row[6]);
    r.data_interval_end = opt_int64(row[7]);
    r.queued_at = int64(row[8]);
    r.start_date = opt_int64(row[9]);
    r.end_date = opt_int64(row[10]);
    r.conf_json = text(row[11]);
    r.note = text(row[12]);
    r.external_trigger = boolean(row[13]);
    r.last_scheduling_decision = opt_int64(row[14]);
    r.owner = text(row[15]);
    r.parent_dag_id = text(row[16]);
    r.parent_run_id = text(row[17]);
    r.parent_task_id = text(row[18]);
    r.trigger_depth = static_cast<int>(int64(row[19]));
    return r;
}

void bind_task(Params& p, const TaskInstance& t, std::string_view dag_id, std::string_view run_id) {
    p.add(dag_id).add(run_id).add(t.task_id).add(t.map_index).add(to_string(t.state));
    p.add(t.try_number).add(t.max_tries).add(t.start_date).add(t.end_date);
    p.add(t.queued_when).add(t.next_try_at).add(t.operator_name).add(t.hostname);
    p.add(t.served_by).add(t.output_json).add(t.note).add(t.pid).add(t.owner);
    p.add(t.process_identity).add(t.pool).add(t.pool_slots);
}

Result<TaskInstance> read_task(const pqxx::row& r) {
    TaskInstance t;
    t.dag_id = text(r[0]);
    t.run_id = text(r[1]);
    t.task_id = text(r[2]);
    t.map_index = static_cast<int>(int64(r[3]));
    const std::string state = text(r[4]);
    auto parsed_state = parse_task_state(state);
    if (!parsed_state) return bad_column("task_instances", "state", state);
    t.state = *parsed_state;
    t.try_number = static_cast<int>(int64(r[5]));
    t.max_tries = static_cast<int>(int64(r[6]));
    t.start_date = opt_int64(r[7]);
    t.end_date = opt_int64(r[8]);
    t.queued_when = opt_int64(r[9]);
    t.next_try_at = opt_int64(r[10]);
    t.operator_name = text(r[11]);
    t.hostname = text(r[12]);
    t.served_by = text(r[13]);
    t.output_json = opt_text(r[14]);
    t.note = text(r[15]);
    t.pid = static_cast<int>(int64(r[16]));
    t.owner = text(r[17]);
    t.process_identity = text(r[18]);
    t.pool = text(r[19]);
    t.pool_slots = static_cast<int>(int64(r[20]));
    return t;
}

void bind_try(Params& p, const TaskTry& t) {
    p.add(t.dag_id).add(t.run_id).add(t.task_id).add(t.map_index).add(t.try_number);
    p.add(to_string(t.state)).add(t.start_date).add(t.end_date).add(t.hostname);
    p.add(t.served_by).add(t.error).add(t.output_json).add(t.rendered_json);
}

Result<TaskTry> read_try(const pqxx::row& r) {
    TaskTry t;
    t.dag_id = text(r[0]);
    t.run_id = text(r[1]);
    t.task_id = text(r[2]);
    t.map_index = static_cast<int>(int64(r[3]));
    t.try_number = static_cast<int>(int64(r[4]));
    const std::string state = text(r[5]);
    auto parsed_state = parse_task_state(state);
    if (!parsed_state) return bad_column("task_tries", "state", state);
    t.state = *parsed_state;
    t.start_date = int64(r[6]);
    t.end_date = opt_int64(r[7]);
    t.hostname = text(r[8]);
    t.served_by = text(r[9]);
    t.error = text(r[10]);
    t.output_json = opt_text(r[11]);
    t.rendered_json = text(r[12]);
    return t;
}

ImportError read_import_error(const pqxx::row& r) {
    ImportError e;
    e.id = int64(r[0]);
    e.filename = text(r[1]);
    e.message = text(r[2]);
    e.timestamp = int64(r[3]);
    return e;
}

void bind_user(Params& p, const User& u) {
    p.add(u.username).add(u.password_hash).add(u.role).add(u.email).add(u.first_name);
    p.add(u.last_name).add(u.created_at);
}

User read_user(const pqxx::row& r) {
    User u;
    u.id = int64(r[0]);
    u.username = text(r[1]);
    u.password_hash = text(r[2]);
    u.role = text(r[3]);
    u.email = text(r[4]);
    u.first_name = text(r[5]);
    u.last_name = text(r[6]);
    u.created_at = int64(r[7]);
    return u;
}

void bind_event_log(Params& p, const EventLog& e) {
    p.add(e.when).add(e.event).add(e.owner).add(e.dag_id).add(e.run_id).add(e.task_id);
    p.add(e.extra);
}

EventLog read_event_log(const pqxx::row& r) {
    EventLog e;
    e.id = int64(r[0]);
    e.when = int64(r[1]);
    e.event = text(r[2]);
    e.owner = text(r[3]);
    e.dag_id = text(r[4]);
    e.run_id = text(r[5]);
    e.task_id = text(r[6]);
    e.extra = text(r[7]);
    return e;
}

// The key last when `key_last` (an UPDATE's WHERE), first otherwise (kVariableColumns' order).
void bind_variable(Params& p, const Variable& v, bool key_last) {
    if (!key_last) p.add(v.key);
    p.add(v.value).add(v.description).add(v.is_encrypted);
    if (key_last) p.add(v.key);
}

Variable read_variable(const pqxx::row& r) {
    Variable v;
    v.key = text(r[0]);
    v.value = text(r[1]);
    v.description = opt_text(r[2]);
    v.is_encrypted = boolean(r[3]);
    return v;
}

void bind_connection(Params& p, const Connection& c, bool key_last) {
    if (!key_last) p.add(c.conn_id);
    p.add(c.conn_type).add(c.description).add(c.host).add(c.port).add(c.login);
    p.add(c.password).add(c.schema).add(c.extra).add(c.is_encrypted).add(c.is_extra_encrypted);
    if (key_last) p.add(c.conn_id);
}

Connection read_connection(const pqxx::row& r) {
    Connection c;
    c.conn_id = text(r[0]);
    c.conn_type = text(r[1]);
    c.description = opt_text(r[2]);
    c.host = opt_text(r[3]);
    c.port = opt_int64(r[4]);
    c.login = opt_text(r[5]);
    c.password = opt_text(r[6]);
    c.schema = opt_text(r[7]);
    c.extra = opt_text(r[8]);
    c.is_encrypted = boolean(r[9]);
    c.is_extra_encrypted = boolean(r[10]);
    return c;
}

void bind_pool(Params& p, const Pool& pool, bool key_last) {
    if (!key_last) p.add(pool.name);
    p.add(pool.slots).add(pool.description).add(pool.include_deferred);
    if (key_last) p.add(pool.name);
}

Pool read_pool(const pqxx::row& r) {
    Pool pool;
    pool.name = text(r[0]);
    pool.slots = int64(r[1]);
    pool.description = opt_text(r[2]);
    pool.include_deferred = boolean(r[3]);
    return pool;
}

// UPDATE of every column but the first (the key), which the WHERE names: its parameter last.
std::string update_sql(std::string_view table, std::span<const std::string_view> columns) {
    std::string sets;
    for (std::size_t i = 1; i < columns.size(); ++i) {
        sets += fmt::format("{}{} = ${}", i == 1 ? "" : ", ", columns[i], i);
    }
    return fmt::format("UPDATE {} SET {} WHERE {} = ${}", table, sets, columns[0],
                       columns.size());
}

// Converts every row with read (returning T or Result<T>).
template <class T, class Read>
Result<std::vector<T>> read_all(const pqxx::result& rows, Read read) {
    std::vector<T> items;
    items.reserve(rows.size());
    for (const auto& row : rows) {
        if constexpr (std::is_same_v<std::invoke_result_t<Read, const pqxx::row&>, T>) {
            items.push_back(read(row));
        } else {
            auto item = read(row);
            if (!item) return item.error();
            items.push_back(std::move(*item));
        }
    }
    return items;
}

template <class T, class Read>
Result<std::optional<T>> read_optional(const pqxx::result& rows, Read read) {
    if (rows.empty()) return std::optional<T>{};
    if constexpr (std::is_same_v<std::invoke_result_t<Read, const pqxx::row&>, T>) {
        return std::optional<T>(read(rows[0]));
    } else {
        auto item = read(rows[0]);
        if (!item) return item.error();
        return std::optional<T>(std::move(*item));
    }
}

// ---------------------------------------------------------------------------------------------
// The prepared statements, prepared on every connection of the pool.

enum class Ps : std::size_t {
    kSchemaVersion,
    kRecordMigration,
    kUpsertDag,
    kGetDag,
    kListDags,
    kCreateRun,
    kCommitBatch,
    kGetRun,
    kUnfinishedRuns,
    kCountRuns,
    kDeleteRun,
    kGetTask,
    kTasksOfRun,
    kDeleteTask,
    kTriesOfTask,
    kDeleteImportErrors,
    kInsertImportError,
    kListImportErrors,
    kInsertUser,
    kGetUser,
    kListUsers,
    kDeleteUser,
    kUpdateUser,
    kInsertEventLog,
    kGetEventLog,
    kInsertProcess,
    kBeatProcess,
    kDeleteDeadProcesses,
    kClaimRuns,
    kListProcesses,
    kInsertVariable,
    kUpdateVariable,
    kUpsertVariable,
    kGetVariable,
    kListVariables,
    kCountVariables,
    kDeleteVariable,
    kInsertConnection,
    kUpdateConnection,
    kUpsertConnection,
    kGetConnection,
    kListConnections,
    kCountConnections,
    kDeleteConnection,
    kInsertPool,
    kUpdatePool,
    kUpsertPool,
    kGetPool,
    kListPools,
    kCountPools,
    kDeletePool,
    kPoolUsage,
    kCount,
};

constexpr std::size_t kPsCount = static_cast<std::size_t>(Ps::kCount);

std::string statement_sql(Ps id) {
    switch (id) {
        case Ps::kSchemaVersion:
            return "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
        case Ps::kRecordMigration:
            return "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)";
        case Ps::kUpsertDag:
            return upsert_sql("dags", kDagColumns, 1);
        case Ps::kGetDag:
            return fmt::format("SELECT {} FROM dags WHERE dag_id = $1", column_list(kDagColumns));
        case Ps::kListDags:
            return fmt::format("SELECT {} FROM dags ORDER BY dag_id", column_list(kDagColumns));
        case Ps::kCreateRun:
            return create_run_sql();
        case Ps::kCommitBatch:
            return commit_batch_sql();
        case Ps::kGetRun:
            return run_select() + " WHERE dag_id = $1 AND run_id = $2";
        case Ps::kUnfinishedRuns:
            return run_select() + " WHERE state IN ('queued', 'running') ORDER BY id";
        case Ps::kCountRuns:
            return "SELECT dag_id, state, COUNT(*) FROM dag_runs GROUP BY dag_id, state";
        case Ps::kDeleteRun:
            return "DELETE FROM dag_runs WHERE dag_id = $1 AND run_id = $2";
        case Ps::kGetTask:
            return task_select() +
                   " WHERE dag_id = $1 AND run_id = $2 AND task_id = $3 AND map_index = $4";
        case Ps::kTasksOfRun:
            return task_select() +
                   " WHERE dag_id = $1 AND run_id = $2 ORDER BY task_id, map_index";
        case Ps::kDeleteTask:
            return "DELETE FROM task_instances WHERE dag_id = $1 AND run_id = $2 AND "
                   "task_id = $3 AND map_index = $4";
        case Ps::kTriesOfTask:
            return fmt::format(
                "SELECT {} FROM task_tries WHERE dag_id = $1 AND run_id = $2 AND "
                "task_id = $3 AND map_index = $4 ORDER BY try_number",
                column_list(kTryColumns));
        case Ps::kDeleteImportErrors:
            return "DELETE FROM import_errors";
        case Ps::kInsertImportError:
            return "INSERT INTO import_errors (filename, message, timestamp) VALUES ($1, $2, $3)";
        case Ps::kListImportErrors:
            return "SELECT id, filename, message, timestamp FROM import_errors ORDER BY id";
        case Ps::kInsertUser:
            return insert_sql("users", kUserColumns) +
                   " ON CONFLICT (username) DO NOTHING RETURNING id";
        case Ps::kGetUser:
            return fmt::format("SELECT id, {} FROM users WHERE username = $1",
                               column_list(kUserColumns));
        case Ps::kListUsers:
            return fmt::format("SELECT id, {} FROM users ORDER BY username",
                               column_list(kUserColumns));
        case Ps::kDeleteUser:
            return "DELETE FROM users WHERE username = $1";
        case Ps::kUpdateUser:
            return "UPDATE users SET password_hash = $1, role = $2, email = $3, first_name = $4, "
                   "last_name = $5 WHERE username = $6";
        case Ps::kInsertEventLog:
            return insert_sql("event_logs", kEventLogColumns) + " RETURNING id";
        case Ps::kGetEventLog:
            return fmt::format("SELECT id, {} FROM event_logs WHERE id = $1",
                               column_list(kEventLogColumns));
        case Ps::kInsertProcess:
            return upsert_sql("scheduler_processes", kProcessColumns, 1);
        case Ps::kBeatProcess:
            return "UPDATE scheduler_processes SET heartbeat_at = $1 WHERE id = $2";
        case Ps::kDeleteDeadProcesses:
            return "DELETE FROM scheduler_processes WHERE id <> $1 AND "
                   "(heartbeat_at < $2 OR ($3 AND kind = 'scheduler'))";
        case Ps::kClaimRuns:
            // Rows another claimer has locked are skipped, not waited for: each run goes to
            // one claimer, and claimers never queue behind each other.
            return fmt::format(
                "UPDATE dag_runs SET owner = $1 WHERE id IN (SELECT id FROM dag_runs "
                "WHERE state IN ('queued', 'running') AND owner <> $1 AND "
                "owner NOT IN (SELECT id FROM scheduler_processes) "
                "ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id, {}",
                column_list(kRunColumns));
        case Ps::kListProcesses:
            return fmt::format("SELECT {} FROM scheduler_processes ORDER BY id",
                               column_list(kProcessColumns));
        case Ps::kInsertVariable:
            return insert_sql("variables", kVariableColumns) + " ON CONFLICT (key) DO NOTHING";
        case Ps::kUpdateVariable: return update_sql("variables", kVariableColumns);
        case Ps::kUpsertVariable: return upsert_sql("variables", kVariableColumns, 1);
        case Ps::kGetVariable:
            return fmt::format("SELECT {} FROM variables WHERE key = $1",
                               column_list(kVariableColumns));
        case Ps::kListVariables:
            return fmt::format("SELECT {} FROM variables ORDER BY key LIMIT $1 OFFSET $2",
                               column_list(kVariableColumns));
        case Ps::kCountVariables: return "SELECT COUNT(*) FROM variables";
        case Ps::kDeleteVariable: return "DELETE FROM variables WHERE key = $1";
        case Ps::kInsertConnection:
            return insert_sql("connections", kConnectionColumns) +
                   " ON CONFLICT (conn_id) DO NOTHING";
        case Ps::kUpdateConnection: return update_sql("connections", kConnectionColumns);
        case Ps::kUpsertConnection: return upsert_sql("connections", kConnectionColumns, 1);
        case Ps::kGetConnection:
            return fmt::format("SELECT {} FROM connections WHERE conn_id = $1",
                               column_list(kConnectionColumns));
        case Ps::kListConnections:
            return fmt::format("SELECT {} FROM connections ORDER BY conn_id LIMIT $1 OFFSET $2",
                               column_list(kConnectionColumns));
        case Ps::kCountConnections: return "SELECT COUNT(*) FROM connections";
        case Ps::kDeleteConnection: return "DELETE FROM connections WHERE conn_id = $1";
        case Ps::kInsertPool:
            return insert_sql("pools", kPoolColumns) + " ON CONFLICT (name) DO NOTHING";
        case Ps::kUpdatePool: return update_sql("pools", kPoolColumns);
        case Ps::kUpsertPool: return upsert_sql("pools", kPoolColumns, 1);
        case Ps::kGetPool:
            return fmt::format("SELECT {} FROM pools WHERE name = $1", column_list(kPoolColumns));
        case Ps::kListPools:
            return fmt::format("SELECT {} FROM pools ORDER BY name LIMIT $1 OFFSET $2",
                               column_list(kPoolColumns));
        case Ps::kCountPools: return "SELECT COUNT(*) FROM pools";
        case Ps::kDeletePool: return "DELETE FROM pools WHERE name = $1";
        case Ps::kPoolUsage:
            return "SELECT pool, state, SUM(pool_slots) FROM task_instances "
                   "WHERE state IN ('scheduled', 'queued', 'running') "
                   "AND ($1::text = '' OR owner <> $1::text) GROUP BY pool, state ORDER BY pool";
        case Ps::kCount:
            break;
    }
    return "";
}

struct Statement {
    std::string name;
    std::string sql;
};

const std::array<Statement, kPsCount>& statements() {
    static const std::array<Statement, kPsCount> all = [] {
        std::array<Statement, kPsCount> s;
        for (std::size_t i = 0; i < kPsCount; ++i) {
            s[i] = Statement{fmt::format("orquestra_{}", i), statement_sql(static_cast<Ps>(i))};
        }
        return s;
    }();
    return all;
}

pqxx::result exec(pqxx::transaction_base& tx, Ps id, const Params& p = {}) {
    return tx.exec_prepared(statements()[static_cast<std::size_t>(id)].name,
                            pqxx::prepare::make_dynamic_params(p.values()));
}

// A statement whose text depends on a filter: built from fixed fragments only, every value a
// parameter.
pqxx::result exec_sql(pqxx::transaction_base& tx, const std::string& sql, const Params& p) {
    return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(p.values()));
}

// ---------------------------------------------------------------------------------------------
// Errors.

// PostgreSQL's message without its "ERROR:  " prefix, and its DETAIL line (which names the
// key of a constraint violation) in parentheses, cut at a few hundred bytes.
std::string first_line(std::string_view message) {
    for (std::string_view prefix : {"ERROR:  ", "FATAL:  "}) {
        if (message.starts_with(prefix)) message.remove_prefix(prefix.size());
    }
    const std::size_t end = message.find('\n');
    std::string out(message.substr(0, end));
    constexpr std::string_view kDetail = "\nDETAIL:  ";
    if (const std::size_t d = message.find(kDetail); d != std::string_view::npos) {
        std::string_view detail = message.substr(d + kDetail.size());
        detail = detail.substr(0, std::min(detail.find('\n'), std::size_t{300}));
        out += fmt::format(" ({})", detail);
    }
    return out;
}

// SQLSTATEs that mean the connection is gone (or going): the connection is dropped.
bool connection_lost(std::string_view state) {
    return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

ErrorCode code_of(std::string_view state) {
    if (state.starts_with("23")) return ErrorCode::kConflict;  // integrity constraint violation
    if (state.starts_with("22")) return ErrorCode::kInvalidArgument;  // data exception
    if (state == "54000") return ErrorCode::kTooLarge;                // program limit exceeded
    if (connection_lost(state) || state.starts_with("53") ||          // insufficient resources
        state.starts_with("40") ||                                    // serialization, deadlock
        state == "55P03" ||                                           // lock not available
        state == "25006" ||                                           // read-only transaction
        state == "57014") {                                           // query canceled
        return ErrorCode::kUnavailable;
    }
    return ErrorCode::kInternal;
}

std::string with_connect_options(std::string url, const PostgresOptions& options) {
    std::string extra;
    if (url.find("connect_timeout=") == std::string::npos) {
        extra += fmt::format("connect_timeout={}", std::max(1, options.connect_timeout_s));
    }
    if (url.find("application_name=") == std::string::npos) {
        extra += extra.empty() ? "" : "&";
        extra += "application_name=orquestra";
    }
    if (extra.empty()) return url;
    return url + (url.find('?') == std::string::npos ? "?" : "&") + extra;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

// The connections: idle ones wait in a stack; at most pool_size exist at once. A connection
// that broke is dropped, and so is every idle one opened before it (a restarted server broke
// them all).
class PostgresPool {
  public:
    struct Connection {
        std::unique_ptr<pqxx::connection> conn;
        std::uint64_t generation = 0;
    };
    struct Lease {
        std::unique_ptr<Connection> connection;
        bool reused = false;  // taken from the idle stack (so possibly dead) rather than new
    };

    PostgresPool(std::string conninfo, std::string shown, PostgresOptions options)
        : conninfo_(std::move(conninfo)), shown_(std::move(shown)), options_(options) {}

    const std::string& shown() const { return shown_; }
    const std::string& conninfo() const { return conninfo_; }
    const PostgresOptions& options() const { return options_; }

    Result<Lease> acquire() {
        std::uint64_t generation = 0;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock,
                     [&] { return !idle_.empty() || open_ < std::max(1, options_.pool_size); });
            if (!idle_.empty()) {
                Lease lease{std::move(idle_.back()), true};
                idle_.pop_back();
                return lease;
            }
            ++open_;
            generation = generation_;
        }
        auto conn = connect();
        if (!conn) {
            std::lock_guard lock(mu_);
            --open_;
            cv_.notify_one();
            return conn.error();
        }
        auto connection = std::make_unique<Connection>();
        connection->conn = std::move(*conn);
        connection->generation = generation;
        return Lease{std::move(connection), false};
    }

    void release(Lease lease, bool broken) {
        std::vector<std::unique_ptr<Connection>> dropped;
        {
            std::lock_guard lock(mu_);
            if (broken) {
                ++generation_;
                dropped = std::move(idle_);
                idle_.clear();
                open_ -= static_cast<int>(dropped.size()) + 1;
            } else if (lease.connection->generation < generation_) {
                --open_;
            } else {
                idle_.push_back(std::move(lease.connection));
            }
            cv_.notify_all();
        }
        // Dropped connections (and a broken one in `lease`) close here, outside the lock.
    }

    // A new connection with the store's statements prepared and its session set up.
    Result<std::unique_ptr<pqxx::connection>> connect() {
        try {
            auto conn = std::make_unique<pqxx::connection>(conninfo_);
            if (options_.read_only) {
                pqxx::nontransaction tx(*conn);
                tx.exec("SET default_transaction_read_only = on");
            }
            for (const Statement& s : statements()) conn->prepare(s.name, s.sql);
            return conn;
        } catch (const std::exception& e) {
            return Error{ErrorCode::kUnavailable,
                         fmt::format("cannot connect to PostgreSQL at {}: {}", shown_,
                                     first_line(e.what()))};
        }
    }

    // The scheduler's claim: a connection of its own holding a session advisory lock.
    std::mutex scheduler_mu;
    std::unique_ptr<pqxx::connection> scheduler_conn;  // guarded by scheduler_mu

  private:
    const std::string conninfo_;
    const std::string shown_;
    const PostgresOptions options_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
    int open_ = 0;                                   // idle and leased; guarded by mu_
    std::uint64_t generation_ = 0;                   // guarded by mu_
};

namespace {

// What a call works with: its connection, and what the statement under way concerns (for the
// error message).
struct Call {
    pqxx::connection& conn;
    std::string subject;
};

// Whether a call may run again on a new connection when its pooled one turns out dead.
enum class Retry {
    kOnce,   // reads, transactions that lost their connection before COMMIT, idempotent writes
    kNever,  // a write committed on its own whose second run would answer differently
};

// Runs body(Call&) on a pooled connection and turns every exception into an Error. body commits
// its own transaction. A pooled connection found dead is replaced and, with Retry::kOnce, the
// call run once more: a transaction that lost its connection before COMMIT was never
// committed.
template <class Body>
auto with_connection(PostgresPool& pool, std::string_view what, Body&& body,
                     Retry retry = Retry::kOnce) -> std::invoke_result_t<Body&, Call&> {
    for (int attempt = 0;; ++attempt) {
        auto lease = pool.acquire();
        if (!lease) return lease.error();
        const bool reused = lease->reused && retry == Retry::kOnce;
        Call call{*lease->connection->conn, {}};
        const auto failed = [&](ErrorCode code, std::string_view message) {
            return Error{code, fmt::format("{}: {}", call.subject.empty() ? what : call.subject,
                                           first_line(message))};
        };
        try {
            auto result = body(call);
            pool.release(std::move(*lease), false);
            return result;
        } catch (const pqxx::in_doubt_error& e) {
            pool.release(std::move(*lease), true);
            return failed(ErrorCode::kUnavailable,
                          fmt::format("the connection to PostgreSQL was lost while committing, "
                                      "so whether the change was stored is unknown ({})",
                                      first_line(e.what())));
        } catch (const pqxx::broken_connection& e) {
            pool.release(std::move(*lease), true);
            if (reused && attempt == 0) continue;
            return failed(
                ErrorCode::kUnavailable,
                fmt::format(
                    "lost the connection to PostgreSQL at {}{}: {}", pool.shown(),
                    retry == Retry::kNever ? " (whether the change was stored is unknown)" : "",
                    first_line(e.what())));
        } catch (const pqxx::sql_error& e) {
            const std::string state = e.sqlstate();
            const bool lost = connection_lost(state) || !call.conn.is_open();
            pool.release(std::move(*lease), lost);
            if (lost && reused && attempt == 0) continue;
            return failed(lost ? ErrorCode::kUnavailable : code_of(state), e.what());
        } catch (const InvalidValue& e) {
            pool.release(std::move(*lease), false);
            return failed(ErrorCode::kInvalidArgument, e.what());
        } catch (const std::exception& e) {
            const bool lost = !call.conn.is_open();
            pool.release(std::move(*lease), lost);
            return failed(lost ? ErrorCode::kUnavailable : ErrorCode::kInternal, e.what());
        }
    }
}

// One statement that writes, in a transaction of its own: a connection lost before COMMIT
// is retried, one lost during COMMIT is reported as such (an autocommitted statement could not
// tell the two apart).
using Write = pqxx::work;
// Reads of one statement need no transaction.
using Read = pqxx::nontransaction;
// Several reads that must agree (a page and its total).
using Snapshot = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;


// The WHERE clause of a list query: fixed fragments, every value a parameter.
struct Where {
    std::string sql;  // "" or " WHERE a AND b ..."
    Params params;

    void add(std::string_view clause) {
        sql += sql.empty() ? " WHERE " : " AND ";
        sql += clause;
    }
    template <class T>
    void add_if(std::string_view column_op, const std::optional<T>& value) {
        if (!value) return;
        add(fmt::format("{} {}", column_op, params.next()));
        params.add(*value);
    }
    void add_any(std::string_view column, const std::vector<std::string>& values) {
        if (values.empty()) return;
        std::string clause = fmt::format("{} IN (", column);
        for (std::size_t i = 0; i < values.size(); ++i) {
            clause += (i == 0 ? "" : ", ") + params.next();
            params.add(values[i]);
        }
        add(clause + ")");
    }
    template <class State>
    void add_states(const std::vector<State>& states) {
        if (states.empty()) return;
        std::string clause = "state IN (";
        for (std::size_t i = 0; i < states.size(); ++i) {
            clause += (i == 0 ? "" : ", ") + params.next();
            params.add(to_string(states[i]));
        }
        add(clause + ")");
    }
};

Result<int> applied_version(pqxx::transaction_base& tx) {
    auto rows = exec(tx, Ps::kSchemaVersion);
    return static_cast<int>(int64(rows[0][0]));
}

// Schedulers LISTEN here; the payload is the schema the run is in (several schemas may share a
// database, as the tests' do), so a scheduler wakes only for its own.
constexpr std::string_view kRunsChannel = "orquestra_runs";

// A run that a scheduler must claim before anything happens to it.
bool waits_for_claim(const DagRun& run) {
    return run.owner.empty() && (run.state == RunState::kQueued || run.state == RunState::kRunning);
}

// Tells the schedulers listening that runs wait for a claim. In a transaction, PostgreSQL
// delivers it when that commits; outside one, at once, after what was stored before.
void notify_runs_waiting(pqxx::transaction_base& tx) {
    tx.exec(fmt::format("SELECT pg_notify('{}', current_schema())", kRunsChannel));
}

// A connection of its own (plain libpq: it only waits) that LISTENs on kRunsChannel, and a
// thread that waits on its socket and on an eventfd that stops it. A lost connection is opened
// again after a second, and on_wake called then, for what was missed meanwhile.
class PostgresRunWatch final : public Store::RunWatch {
  public:
    PostgresRunWatch(std::string conninfo, std::string shown, std::function<void()> on_wake)
        : conninfo_(std::move(conninfo)),
          shown_(std::move(shown)),
          on_wake_(std::move(on_wake)),
          stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
        thread_ = std::thread([this] { watch(); });
    }
    ~PostgresRunWatch() override {
        stop_.store(true);
        const std::uint64_t one = 1;
        // The eventfd cannot be full after one write; the thread also sees stop_ within a
        // second of a reconnecting wait.
        [[maybe_unused]] auto written = ::write(stop_fd_, &one, sizeof one);
        thread_.join();
        ::close(stop_fd_);
    }
    PostgresRunWatch(const PostgresRunWatch&) = delete;
    PostgresRunWatch& operator=(const PostgresRunWatch&) = delete;

  private:
    struct Connection {
        PGconn* conn = nullptr;
        ~Connection() { PQfinish(conn); }
    };

    // Runs one statement; false (with the reason in `error`) when it failed.
    static bool exec(PGconn* conn, const char* sql, std::string* value, std::string& error) {
        PGresult* result = PQexec(conn, sql);
        const auto status = PQresultStatus(result);
        const bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
        if (!ok) error = first_line(PQerrorMessage(conn));
        if (ok && value != nullptr && PQntuples(result) > 0) *value = PQgetvalue(result, 0, 0);
        PQclear(result);
        return ok;
    }

    // Waits for the socket or the stop signal; false when stopping.
    bool wait(int fd, int timeout_ms) {
        pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
        const int n = ::poll(fds, fd < 0 ? 1 : 2, timeout_ms);
        return !stop_.load() && !(n > 0 && (fds[0].revents & POLLIN));
    }

    void watch() {
        bool missed = false;  // a connection was lost (or never made): wake once connected
        std::string last_error;
        while (!stop_.load()) {
            Connection c{PQconnectdb(conninfo_.c_str())};
            std::string schema;
            std::string error;
            const std::string listen = fmt::format("LISTEN {}", kRunsChannel);
            if (PQstatus(c.conn) != CONNECTION_OK) {
                error = first_line(PQerrorMessage(c.conn));
            } else if (exec(c.conn, "SELECT current_schema()", &schema, error) &&
                       exec(c.conn, listen.c_str(), nullptr, error)) {
                if (missed) on_wake_();
                missed = false;
                last_error.clear();
                while (wait(PQsocket(c.conn), -1)) {
                    if (PQconsumeInput(c.conn) == 0) {
                        error = first_line(PQerrorMessage(c.conn));
                        break;
                    }
                    bool wake = false;
                    while (PGnotify* n = PQnotifies(c.conn)) {
                        wake = wake || schema == n->extra;
                        PQfreemem(n);
                    }
                    if (wake) on_wake_();
                }
            }
            if (stop_.load()) break;
            missed = true;
            if (error != last_error) {
                spdlog::warn("scheduler wake-ups from PostgreSQL at {} stopped ({}); looking for "
                             "runs every housekeeping until they are back",
                             shown_, error);
                last_error = error;
            }
            if (!wait(-1, 1000)) break;
        }
    }

    const std::string conninfo_;
    const std::string shown_;
    const std::function<void()> on_wake_;
    const int stop_fd_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace

PostgresStore::PostgresStore(std::unique_ptr<PostgresPool> pool) : pool_(std::move(pool)) {}

PostgresStore::~PostgresStore() = default;

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(const std::string& url,
                                                           PostgresOptions options) {
    if (!is_postgres_url(url)) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("'{}' is not a postgresql:// URL", mask_password(url))};
    }
    if (url.find('\0') != std::string::npos) {
        return Error{ErrorCode::kInvalidArgument, "the database URL holds a NUL byte"};
    }
    auto pool = std::make_unique<PostgresPool>(with_connect_options(url, options),
                                               mask_password(url), options);
    // One connection now: a wrong URL, password or an unreachable server fails here.
    auto first = pool->acquire();
    if (!first) return first.error();
    pool->release(std::move(*first), false);
    return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(pool)));
}

Result<void> PostgresStore::migrate() {
    // Every step holds the migration lock for its transaction, so processes migrating at once
    // take turns, and each one reads the version again after waiting.
    auto current = with_connection(*pool_, "migrate", [](Call& c) -> Result<int> {
        Write tx(c.conn);
        tx.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kMigrationLockKey));
        tx.exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
        auto version = applied_version(tx);
        tx.commit();
        return version;
    });
    if (!current) return current.error();
    if (*current > latest_schema_version()) {
        return Error{ErrorCode::kUnavailable,
                     fmt::format("the database has schema version {}, newer than this program's "
                                 "{}: upgrade orquestra",
                                 *current, latest_schema_version())};
    }
    for (const Migration& migration : postgres_migrations()) {
        if (migration.version <= *current) continue;
        const std::string what =
            fmt::format("migration {} ({})", migration.version, migration.name);
        auto applied = with_connection(*pool_, what, [&](Call& c) -> Result<void> {
            Write tx(c.conn);
            tx.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kMigrationLockKey));
            auto version = applied_version(tx);
            if (!version) return version.error();
            if (*version >= migration.version) return {};
            tx.exec(std::string(migration.sql));
            exec(tx, Ps::kRecordMigration,
                 Params().add(migration.version).add(SystemClock::instance().now_ms()));
            tx.commit();
            return {};
        });
        if (!applied) return applied.error();
    }
    return {};
}

Result<int> PostgresStore::schema_version() {
    return with_connection(*pool_, "read schema version", [](Call& c) -> Result<int> {
        Read tx(c.conn);
        auto exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
        if (!boolean(exists[0][0])) return 0;
        return applied_version(tx);
    });
}

Result<void> PostgresStore::upsert_dag(const DagRecord& dag) {
    return with_connection(*pool_, "upsert DAG", [&](Call& c) -> Result<void> {
        Params p;
        bind_dag(p, dag);
        Write tx(c.conn);
        exec(tx, Ps::kUpsertDag, p);
        tx.commit();
        return {};
    });
}

Result<std::optional<DagRecord>> PostgresStore::get_dag(const std::string& dag_id) {
    return with_connection(*pool_, "get DAG", [&](Call& c) -> Result<std::optional<DagRecord>> {
        Read tx(c.conn);
        return read_optional<DagRecord>(exec(tx, Ps::kGetDag, Params().add(dag_id)), read_dag);
    });
}

Result<std::vector<DagRecord>> PostgresStore::list_dags() {
    return with_connection(*pool_, "list DAGs", [](Call& c) -> Result<std::vector<DagRecord>> {
        Read tx(c.conn);
        return read_all<DagRecord>(exec(tx, Ps::kListDags), read_dag);
    });
}

Result<DagRun> PostgresStore::create_run(const DagRun& run,
                                         const std::vector<TaskInstance>& tasks) {
    for (const TaskInstance& task : tasks) {
        if ((!task.dag_id.empty() && task.dag_id != run.dag_id) ||
            (!task.run_id.empty() && task.run_id != run.run_id)) {
            return Error{
                ErrorCode::kInvalidArgument,
                fmt::format("task instance '{}' names run '{}' of DAG '{}', not run '{}' "
                            "of DAG '{}'",
                            task.task_id, task.run_id, task.dag_id, run.run_id, run.dag_id)};
        }
    }
    Params p;
    bind_run(p, run);
    RowArrays rows(kTaskColumns.size());
    for (const TaskInstance& task : tasks) {
        Params row;
        bind_task(row, task, run.dag_id, run.run_id);
        rows.add(std::move(row));
    }
    rows.bind(p);
    // One statement, committed on its own: retrying it after a lost connection could find the
    // run it had itself created and answer kConflict, so it is not retried.
    return with_connection(
        *pool_, "insert DAG run",
        [&](Call& c) -> Result<DagRun> {
            Read tx(c.conn);
            auto result = exec(tx, Ps::kCreateRun, p);
            if (result.empty()) {
                return Error{ErrorCode::kConflict,
                             fmt::format("DAG run '{}' already exists for DAG '{}'", run.run_id,
                                         run.dag_id)};
            }
            if (waits_for_claim(run)) notify_runs_waiting(tx);
            DagRun created = run;
            created.id = int64(result[0][0]);
            return created;
        },
        Retry::kNever);
}

Result<std::optional<DagRun>> PostgresStore::get_run(const std::string& dag_id,
                                                     const std::string& run_id) {
    return with_connection(*pool_, "get DAG run", [&](Call& c) -> Result<std::optional<DagRun>> {
        Read tx(c.conn);
        return read_optional<DagRun>(exec(tx, Ps::kGetRun, Params().add(dag_id).add(run_id)),
                                     read_run);
    });
}

Result<Page<DagRun>> PostgresStore::list_runs(const RunFilter& filter) {
    if (auto bad = check_page(filter.limit, filter.offset)) return *bad;
    auto order = run_order_clause(filter.order_by, "ASC NULLS FIRST", "DESC NULLS LAST");
    if (!order) return order.error();
    if (filter.dag_ids.size() > 1000) {
        return Error{ErrorCode::kInvalidArgument, "at most 1000 DAG ids in one filter"};
    }
    Where where;
    where.add_if("dag_id =", filter.dag_id);
    where.add_any("dag_id", filter.dag_ids);
    where.add_states(filter.states);
    where.add_if("logical_date >=", filter.logical_date_gte);
    where.add_if("logical_date <=", filter.logical_date_lte);
    where.add_if("start_date >=", filter.start_date_gte);
    where.add_if("start_date <=", filter.start_date_lte);
    where.add_if("end_date >=", filter.end_date_gte);
    where.add_if("end_date <=", filter.end_date_lte);
    Params page_params = where.params;
    const std::string limit = page_params.next();
    page_params.add(filter.limit);
    const std::string offset = page_params.next();
    page_params.add(filter.offset);
    const std::string count_sql = "SELECT COUNT(*) FROM dag_runs" + where.sql;
    const std::string list_sql =
        run_select() + where.sql + *order + " LIMIT " + limit + " OFFSET " + offset;

    return with_connection(*pool_, "list DAG runs", [&](Call& c) -> Result<Page<DagRun>> {
        Snapshot tx(c.conn);
        Page<DagRun> page;
        page.total = int64(exec_sql(tx, count_sql, where.params)[0][0]);
        auto items = read_all<DagRun>(exec_sql(tx, list_sql, page_params), read_run);
        if (!items) return items.error();
        page.items = std::move(*items);
        tx.commit();
        return page;
    });
}

Result<std::vector<DagRun>> PostgresStore::unfinished_runs() {
    return with_connection(*pool_, "list unfinished runs",
                           [](Call& c) -> Result<std::vector<DagRun>> {
                               Read tx(c.conn);
                               return read_all<DagRun>(exec(tx, Ps::kUnfinishedRuns), read_run);
                           });
}

Result<std::vector<RunCount>> PostgresStore::count_runs() {
    return with_connection(
        *pool_, "count runs by DAG and state", [](Call& c) -> Result<std::vector<RunCount>> {
            Read tx(c.conn);
            return read_all<RunCount>(exec(tx, Ps::kCountRuns),
                                      [](const pqxx::row& row) -> Result<RunCount> {
                                          RunCount count;
                                          count.dag_id = text(row[0]);
                                          const std::string state = text(row[1]);
                                          auto parsed = parse_run_state(state);
                                          if (!parsed)
                                              return bad_column("dag_runs", "state", state);
                                          count.state = *parsed;
                                          count.count = int64(row[2]);
                                          return count;
                                      });
        });
}

Result<void> PostgresStore::delete_run(const std::string& dag_id, const std::string& run_id) {
    return with_connection(*pool_, "delete DAG run", [&](Call& c) -> Result<void> {
        Write tx(c.conn);
        // Counts the run row only, not the task instances and tries removed by the cascade.
        auto rows = exec(tx, Ps::kDeleteRun, Params().add(dag_id).add(run_id));
        if (rows.affected_rows() == 0) {
            return Error{ErrorCode::kNotFound,
                         fmt::format("DAG run '{}' not found for DAG '{}'", run_id, dag_id)};
        }
        tx.commit();
        return {};
    });
}

Result<std::vector<TaskInstance>> PostgresStore::task_instances(const std::string& dag_id,
                                                                const std::string& run_id) {
    return with_connection(
        *pool_, "list task instances", [&](Call& c) -> Result<std::vector<TaskInstance>> {
            Read tx(c.conn);
            return read_all<TaskInstance>(
                exec(tx, Ps::kTasksOfRun, Params().add(dag_id).add(run_id)), read_task);
        });
}

Result<std::vector<TaskInstance>> PostgresStore::task_instances_of_runs(
    const std::string& dag_id, const std::vector<std::string>& run_ids) {
    if (run_ids.empty()) return std::vector<TaskInstance>{};
    if (run_ids.size() > 1000) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("at most 1000 runs at once, not {}", run_ids.size())};
    }
    Where where;
    where.add_if("dag_id =", std::optional<std::string>(dag_id));
    where.add_any("run_id", run_ids);
    const std::string sql = task_select() + where.sql + " ORDER BY run_id, task_id, map_index";
    return with_connection(
        *pool_, "list task instances of runs", [&](Call& c) -> Result<std::vector<TaskInstance>> {
            Read tx(c.conn);
            return read_all<TaskInstance>(exec_sql(tx, sql, where.params), read_task);
        });
}

Result<std::optional<TaskInstance>> PostgresStore::get_task_instance(const std::string& dag_id,
                                                                     const std::string& run_id,
                                                                     const std::string& task_id,
                                                                     int map_index) {
    return with_connection(
        *pool_, "get task instance", [&](Call& c) -> Result<std::optional<TaskInstance>> {
            Read tx(c.conn);
            return read_optional<TaskInstance>(
                exec(tx, Ps::kGetTask,
                     Params().add(dag_id).add(run_id).add(task_id).add(map_index)),
                read_task);
        });
}

Result<Page<TaskInstance>> PostgresStore::list_task_instances(const TaskFilter& filter) {
    if (auto bad = check_page(filter.limit, filter.offset)) return *bad;
    if (filter.dag_ids.size() + filter.run_ids.size() + filter.task_ids.size() > 1000) {
        return Error{ErrorCode::kInvalidArgument, "at most 1000 ids in one filter"};
    }
    Where where;
    where.add_if("dag_id =", filter.dag_id);
    where.add_if("run_id =", filter.run_id);
    where.add_any("dag_id", filter.dag_ids);
    where.add_any("run_id", filter.run_ids);
    where.add_any("task_id", filter.task_ids);
    where.add_states(filter.states);
    where.add_if("start_date >=", filter.start_date_gte);
    where.add_if("start_date <=", filter.start_date_lte);
    where.add_if("end_date >=", filter.end_date_gte);
    where.add_if("end_date <=", filter.end_date_lte);
    if (filter.mapped_only) where.add_if("map_index >=", std::optional<std::int64_t>(0));
    auto order = task_order_clause(filter.order_by, "ASC NULLS FIRST", "DESC NULLS LAST");
    if (!order) return order.error();
    Params page_params = where.params;
    const std::string limit = page_params.next();
    page_params.add(filter.limit);
    const std::string offset = page_params.next();
    page_params.add(filter.offset);
    const std::string count_sql = "SELECT COUNT(*) FROM task_instances" + where.sql;
    const std::string list_sql = task_select() + where.sql +
                                 *order + " LIMIT " + limit + " OFFSET " + offset;

    return with_connection(
        *pool_, "list task instances", [&](Call& c) -> Result<Page<TaskInstance>> {
            Snapshot tx(c.conn);
            Page<TaskInstance> page;
            page.total = int64(exec_sql(tx, count_sql, where.params)[0][0]);
            auto items = read_all<TaskInstance>(exec_sql(tx, list_sql, page_params), read_task);
            if (!items) return items.error();
            page.items = std::move(*items);
            tx.commit();
            return page;
        });
}

Result<std::vector<TaskTry>> PostgresStore::tries(const std::string& dag_id,
                                                  const std::string& run_id,
                                                  const std::string& task_id,
                                                  int map_index) {
    return with_connection(*pool_, "list task tries", [&](Call& c) -> Result<std::vector<TaskTry>> {
        Read tx(c.conn);
        return read_all<TaskTry>(
            exec(tx, Ps::kTriesOfTask,
                 Params().add(dag_id).add(run_id).add(task_id).add(map_index)),
            read_try);
    });
}

namespace {

// The rows of one commit() batch, each key once: a later record of the same key replaces an
// earlier one (as the statements of SQLite's transaction would, one after the other), except
// that a try keeps the rendered request of an earlier record when the later one has none.
// One statement may not upsert a row twice.
struct Batch {
    RowArrays runs{kRunColumns.size()};
    RowArrays tasks{kTaskColumns.size()};
    RowArrays tries{kTryColumns.size()};
};

template <class T, class KeyOf>
std::vector<const T*> last_of_each(const std::vector<T>& items, KeyOf key_of) {
    std::map<decltype(key_of(items.front())), std::size_t> last;
    for (std::size_t i = 0; i < items.size(); ++i) last[key_of(items[i])] = i;
    std::vector<const T*> out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (last[key_of(items[i])] == i) out.push_back(&items[i]);
    }
    return out;
}

Batch make_batch(const Changes& changes) {
    Batch batch;
    if (!changes.runs.empty()) {
        for (const DagRun* run : last_of_each(changes.runs, [](const DagRun& r) {
                 return std::make_pair(r.dag_id, r.run_id);
             })) {
            Params row;
            bind_run(row, *run);
            batch.runs.add(std::move(row));
        }
    }
    if (!changes.tasks.empty()) {
        for (const TaskInstance* task : last_of_each(changes.tasks, [](const TaskInstance& t) {
                 return std::make_tuple(t.dag_id, t.run_id, t.task_id, t.map_index);
             })) {
            Params row;
            bind_task(row, *task, task->dag_id, task->run_id);
            batch.tasks.add(std::move(row));
        }
    }
    if (!changes.tries.empty()) {
        const auto key_of = [](const TaskTry& t) {
            return std::make_tuple(t.dag_id, t.run_id, t.task_id, t.map_index, t.try_number);
        };
        std::map<decltype(key_of(changes.tries.front())), std::string> rendered;
        for (const TaskTry& attempt : changes.tries) {
            if (!attempt.rendered_json.empty()) rendered[key_of(attempt)] = attempt.rendered_json;
        }
        for (const TaskTry* attempt : last_of_each(changes.tries, key_of)) {
            TaskTry merged = *attempt;
            if (merged.rendered_json.empty()) {
                auto found = rendered.find(key_of(merged));
                if (found != rendered.end()) merged.rendered_json = found->second;
            }
            Params row;
            bind_try(row, merged);
            batch.tries.add(std::move(row));
        }
    }
    return batch;
}

}  // namespace

Result<void> PostgresStore::commit(const Changes& changes) {
    if (changes.empty()) return {};
    Params p;
    {
        const Batch batch = make_batch(changes);
        batch.runs.bind(p);
        batch.tasks.bind(p);
        batch.tries.bind(p);
    }
    // One statement, so one transaction and one round trip. Every row is an upsert of the
    // values given, so running it again after a lost connection leaves the same state.
    return with_connection(*pool_, "commit", [&](Call& c) -> Result<void> {
        if (!changes.removed_tasks.empty()) {
            // Deletions first, in the same transaction (rarely: a mapped task expanding).
            Write tx(c.conn);
            for (const TaskInstance& t : changes.removed_tasks) {
                exec(tx, Ps::kDeleteTask,
                     Params().add(t.dag_id).add(t.run_id).add(t.task_id).add(t.map_index));
            }
            exec(tx, Ps::kCommitBatch, p);
            if (std::any_of(changes.runs.begin(), changes.runs.end(), waits_for_claim)) {
                notify_runs_waiting(tx);
            }
            tx.commit();
            return {};
        }
        Read tx(c.conn);
        exec(tx, Ps::kCommitBatch, p);
        if (std::any_of(changes.runs.begin(), changes.runs.end(), waits_for_claim)) {
            notify_runs_waiting(tx);
        }
        return {};
    });
}

Result<void> PostgresStore::check_writable() {
    if (pool_->options().read_only) {
        return Error{ErrorCode::kUnavailable, "this store connection is read-only"};
    }
    return with_connection(*pool_, "check the database", [](Call& c) -> Result<void> {
        Read tx(c.conn);
        auto rows =
            tx.exec("SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')");
        if (boolean(rows[0][0])) {
            return Error{ErrorCode::kUnavailable,
                         "the PostgreSQL server is a standby (in recovery): it takes no writes"};
        }
        if (text(rows[0][1]) == "on") {
            return Error{ErrorCode::kUnavailable, "the PostgreSQL session is read-only"};
        }
        return {};
    });
}

Result<void> PostgresStore::replace_import_errors(const std::vector<ImportError>& errors) {
    return with_connection(*pool_, "replace import errors", [&](Call& c) -> Result<void> {
        Write tx(c.conn);
        exec(tx, Ps::kDeleteImportErrors);
        for (const ImportError& error : errors) {
            exec(tx, Ps::kInsertImportError,
                 Params().add(error.filename).add(error.message).add(error.timestamp));
        }
        tx.commit();
        return {};
    });
}

Result<std::vector<ImportError>> PostgresStore::import_errors() {
    return with_connection(
        *pool_, "list import errors", [](Call& c) -> Result<std::vector<ImportError>> {
            Read tx(c.conn);
            return read_all<ImportError>(exec(tx, Ps::kListImportErrors), read_import_error);
        });
}

Result<User> PostgresStore::create_user(const User& user) {
    return with_connection(*pool_, "insert user", [&](Call& c) -> Result<User> {
        Write tx(c.conn);
        Params p;
        bind_user(p, user);
        auto rows = exec(tx, Ps::kInsertUser, p);
        if (rows.empty()) {
            return Error{ErrorCode::kConflict,
                         fmt::format("user '{}' already exists", user.username)};
        }
        User created = user;
        created.id = int64(rows[0][0]);
        tx.commit();
        return created;
    });
}

Result<std::optional<User>> PostgresStore::get_user(const std::string& username) {
    return with_connection(*pool_, "get user", [&](Call& c) -> Result<std::optional<User>> {
        Read tx(c.conn);
        return read_optional<User>(exec(tx, Ps::kGetUser, Params().add(username)), read_user);
    });
}

Result<std::vector<User>> PostgresStore::list_users() {
    return with_connection(*pool_, "list users", [](Call& c) -> Result<std::vector<User>> {
        Read tx(c.conn);
        return read_all<User>(exec(tx, Ps::kListUsers), read_user);
    });
}

Result<void> PostgresStore::delete_user(const std::string& username) {
    return with_connection(*pool_, "delete user", [&](Call& c) -> Result<void> {
        Write tx(c.conn);
        auto rows = exec(tx, Ps::kDeleteUser, Params().add(username));
        if (rows.affected_rows() == 0) {
            return Error{ErrorCode::kNotFound, fmt::format("user '{}' not found", username)};
        }
        tx.commit();
        return {};
    });
}

Result<void> PostgresStore::update_user(const User& user) {
    return with_connection(*pool_, "update user", [&](Call& c) -> Result<void> {
        Write tx(c.conn);
        auto rows = exec(tx, Ps::kUpdateUser,
                         Params()
                             .add(user.password_hash)
                             .add(user.role)
                             .add(user.email)
                             .add(user.first_name)
                             .add(user.last_name)
                             .add(user.username));
        if (rows.affected_rows() == 0) {
            return Error{ErrorCode::kNotFound, fmt::format("user '{}' not found", user.username)};
        }
        tx.commit();
        return {};
    });
}

Result<EventLog> PostgresStore::add_event_log(const EventLog& entry) {
    return with_connection(*pool_, "insert event log", [&](Call& c) -> Result<EventLog> {
        Write tx(c.conn);
        Params p;
        bind_event_log(p, entry);
        auto rows = exec(tx, Ps::kInsertEventLog, p);
        EventLog added = entry;
        added.id = int64(rows[0][0]);
        tx.commit();
        return added;
    });
}

Result<std::optional<EventLog>> PostgresStore::get_event_log(std::int64_t id) {
    return with_connection(*pool_, "get event log",
                           [&](Call& c) -> Result<std::optional<EventLog>> {
                               Read tx(c.conn);
                               return read_optional<EventLog>(
                                   exec(tx, Ps::kGetEventLog, Params().add(id)), read_event_log);
                           });
}

Result<Page<EventLog>> PostgresStore::list_event_logs(const EventLogFilter& filter) {
    if (auto bad = check_page(filter.limit, filter.offset)) return *bad;
    auto order = event_log_order_clause(filter.order_by);
    if (!order) return order.error();
    if (filter.included_events.size() > 1000 || filter.excluded_events.size() > 1000) {
        return Error{ErrorCode::kInvalidArgument, "at most 1000 events in one filter"};
    }
    Where where;
    where.add_if("dag_id =", filter.dag_id);
    where.add_if("run_id =", filter.run_id);
    where.add_if("task_id =", filter.task_id);
    where.add_if("event =", filter.event);
    where.add_if("owner =", filter.owner);
    where.add_if("event_time >=", filter.after);
    where.add_if("event_time <=", filter.before);
    where.add_any("event", filter.included_events);
    if (!filter.excluded_events.empty()) {
        std::string clause = "event NOT IN (";
        for (std::size_t i = 0; i < filter.excluded_events.size(); ++i) {
            clause += (i == 0 ? "" : ", ") + where.params.next();
            where.params.add(filter.excluded_events[i]);
        }
        where.add(clause + ")");
    }
    Params page_params = where.params;
    const std::string limit = page_params.next();
    page_params.add(filter.limit);
    const std::string offset = page_params.next();
    page_params.add(filter.offset);
    const std::string count_sql = "SELECT COUNT(*) FROM event_logs" + where.sql;
    const std::string list_sql =
        fmt::format("SELECT id, {} FROM event_logs{}{} LIMIT {} OFFSET {}",
                    column_list(kEventLogColumns), where.sql, *order, limit, offset);
    return with_connection(*pool_, "list event logs", [&](Call& c) -> Result<Page<EventLog>> {
        Snapshot tx(c.conn);
        Page<EventLog> page;
        page.total = int64(exec_sql(tx, count_sql, where.params)[0][0]);
        auto items = read_all<EventLog>(exec_sql(tx, list_sql, page_params), read_event_log);
        if (!items) return items.error();
        page.items = std::move(*items);
        tx.commit();
        return page;
    });
}

Result<void> PostgresStore::heartbeat(const SchedulerProcess& process, bool first) {
    // Both statements set the values given: running one again leaves the same row.
    return with_connection(*pool_, "record heartbeat", [&](Call& c) -> Result<void> {
        Read tx(c.conn);
        if (first) {
            exec(tx, Ps::kInsertProcess,
                 Params()
                     .add(process.id)
                     .add(process.kind)
                     .add(process.hostname)
                     .add(process.pid)
                     .add(process.started_at)
                     .add(process.heartbeat_at));
            return {};
        }
        auto rows = exec(tx, Ps::kBeatProcess, Params().add(process.heartbeat_at).add(process.id));
        if (rows.affected_rows() == 0) {
            return Error{ErrorCode::kNotFound,
                         fmt::format("scheduler process '{}' has no heartbeat row", process.id)};
        }
        return {};
    });
}

Result<std::vector<DagRun>> PostgresStore::claim_runs(const ClaimRequest& request) {
    return with_connection(*pool_, "claim runs", [&](Call& c) -> Result<std::vector<DagRun>> {
        Write tx(c.conn);
        exec(tx, Ps::kDeleteDeadProcesses,
             Params()
                 .add(request.owner)
                 .add(request.dead_before)
                 .add(request.other_schedulers_dead));
        auto runs = read_all<DagRun>(
            exec(tx, Ps::kClaimRuns,
                 Params().add(request.owner).add(std::int64_t{std::max(0, request.limit)})),
            read_run);
        if (!runs) return runs.error();
        tx.commit();
        // RETURNING keeps no order: oldest first, as the claim chose them.
        std::sort(runs->begin(), runs->end(),
                  [](const DagRun& a, const DagRun& b) { return a.id < b.id; });
        return runs;
    });
}

Result<std::vector<SchedulerProcess>> PostgresStore::scheduler_processes() {
    return with_connection(*pool_, "list scheduler processes",
                           [](Call& c) -> Result<std::vector<SchedulerProcess>> {
                               Read tx(c.conn);
                               return read_all<SchedulerProcess>(exec(tx, Ps::kListProcesses),
                                                                 [](const pqxx::row& row) {
                                                                     SchedulerProcess p;
                                                                     p.id = text(row[0]);
                                                                     p.kind = text(row[1]);
                                                                     p.hostname = text(row[2]);
                                                                     p.pid = int64(row[3]);
                                                                     p.started_at = int64(row[4]);
                                                                     p.heartbeat_at = int64(row[5]);
                                                                     return p;
                                                                 });
                           });
}

std::unique_ptr<Store::RunWatch> PostgresStore::watch_runs(std::function<void()> on_wake) {
    return std::make_unique<PostgresRunWatch>(pool_->conninfo(), pool_->shown(),
                                              std::move(on_wake));
}

Result<void> PostgresStore::claim_scheduler() {
    std::lock_guard lock(pool_->scheduler_mu);
    if (pool_->scheduler_conn != nullptr && pool_->scheduler_conn->is_open()) return {};
    pool_->scheduler_conn.reset();
    auto conn = pool_->connect();
    if (!conn) return conn.error();
    try {
        Read tx(**conn);
        auto rows = tx.exec(fmt::format("SELECT pg_try_advisory_lock({})", kSchedulerLockKey));
        if (!boolean(rows[0][0])) {
            return Error{ErrorCode::kConflict,
                         fmt::format("the database {} is in use by another scheduler; only one "
                                     "may run",
                                     pool_->shown())};
        }
    } catch (const std::exception& e) {
        return Error{ErrorCode::kUnavailable,
                     fmt::format("claim the scheduler's lock: {}", first_line(e.what()))};
    }
    pool_->scheduler_conn = std::move(*conn);
    return {};
}

// --- variables and connections --------------------------------------------------------------

namespace {

// The statements of one kind of record (variables or connections) for the shared code below.
struct RecordSql {
    Ps insert, update, upsert, get, list, count, remove;
    std::string_view noun;  // "variable", "connection"
};

constexpr RecordSql kVariableSql{Ps::kInsertVariable, Ps::kUpdateVariable, Ps::kUpsertVariable,
                                 Ps::kGetVariable,    Ps::kListVariables,  Ps::kCountVariables,
                                 Ps::kDeleteVariable, "variable"};
constexpr RecordSql kConnectionSql{Ps::kInsertConnection, Ps::kUpdateConnection,
                                   Ps::kUpsertConnection, Ps::kGetConnection,
                                   Ps::kListConnections,  Ps::kCountConnections,
                                   Ps::kDeleteConnection, "connection"};

Ps put_statement(const RecordSql& sql, PutMode mode) {
    switch (mode) {
        case PutMode::kCreate: return sql.insert;
        case PutMode::kUpdate: return sql.update;
        case PutMode::kUpsert: break;
    }
    return sql.upsert;
}

template <class Record, class Bind>
Result<void> put_record(PostgresPool& pool, const RecordSql& sql, const Record& record,
                        const std::string& id, PutMode mode, Bind bind) {
    const std::string what = fmt::format("write {} '{}'", sql.noun, id);
    return with_connection(pool, what, [&](Call& c) -> Result<void> {
        Write tx(c.conn);
        Params p;
        bind(p, record, mode == PutMode::kUpdate);
        auto rows = exec(tx, put_statement(sql, mode), p);
        if (mode != PutMode::kUpsert && rows.affected_rows() == 0) {
            if (mode == PutMode::kCreate) {
                return Error{ErrorCode::kConflict,
                             fmt::format("{} '{}' already exists", sql.noun, id)};
            }
            return Error{ErrorCode::kNotFound, fmt::format("{} '{}' not found", sql.noun, id)};
        }
        tx.commit();
        return {};
    });
}

template <class Record, class Read>
Result<std::optional<Record>> get_record(PostgresPool& pool, const RecordSql& sql,
                                         const std::string& id, Read read) {
    return with_connection(pool, fmt::format("get {}", sql.noun),
                           [&](Call& c) -> Result<std::optional<Record>> {
                               pqxx::nontransaction tx(c.conn);
                               return read_optional<Record>(exec(tx, sql.get, Params().add(id)),
                                                            read);
                           });
}

template <class Record, class Read>
Result<Page<Record>> list_records(PostgresPool& pool, const RecordSql& sql, int limit,
                                  int offset, Read read) {
    if (auto bad = check_page(limit, offset)) return *bad;
    return with_connection(pool, fmt::format("list {}s", sql.noun),
                           [&](Call& c) -> Result<Page<Record>> {
                               Snapshot tx(c.conn);
                               Page<Record> page;
                               page.total = int64(exec(tx, sql.count)[0][0]);
                               auto items = read_all<Record>(
                                   exec(tx, sql.list, Params().add(limit).add(offset)), read);
                               if (!items) return items.error();
                               page.items = std::move(*items);
                               tx.commit();
                               return page;
                           });
}

Result<void> delete_record(PostgresPool& pool, const RecordSql& sql, const std::string& id) {
    return with_connection(pool, fmt::format("delete {}", sql.noun), [&](Call& c) -> Result<void> {
        Write tx(c.conn);
        auto rows = exec(tx, sql.remove, Params().add(id));
        if (rows.affected_rows() == 0) {
            return Error{ErrorCode::kNotFound, fmt::format("{} '{}' not found", sql.noun, id)};
        }
        tx.commit();
        return {};
    });
}

}  // namespace

Result<void> PostgresStore::put_variable(const Variable& variable, PutMode mode) {
    return put_record(*pool_, kVariableSql, variable, variable.key, mode, &bind_variable);
}

Result<std::optional<Variable>> PostgresStore::get_variable(const std::string& key) {
    return get_record<Variable>(*pool_, kVariableSql, key, read_variable);
}

Result<Page<Variable>> PostgresStore::list_variables(int limit, int offset) {
    return list_records<Variable>(*pool_, kVariableSql, limit, offset, read_variable);
}

Result<void> PostgresStore::delete_variable(const std::string& key) {
    return delete_record(*pool_, kVariableSql, key);
}

Result<void> PostgresStore::put_connection(const Connection& connection, PutMode mode) {
    return put_record(*pool_, kConnectionSql, connection, connection.conn_id, mode,
                      &bind_connection);
}

Result<std::optional<Connection>> PostgresStore::get_connection(const std::string& conn_id) {
    return get_record<Connection>(*pool_, kConnectionSql, conn_id, read_connection);
}

Result<Page<Connection>> PostgresStore::list_connections(int limit, int offset) {
    return list_records<Connection>(*pool_, kConnectionSql, limit, offset, read_connection);
}

Result<void> PostgresStore::delete_connection(const std::string& conn_id) {
    return delete_record(*pool_, kConnectionSql, conn_id);
}

// --- pools ----------------------------------------------------------------------------------

namespace {
constexpr RecordSql kPoolSql{Ps::kInsertPool, Ps::kUpdatePool, Ps::kUpsertPool,
                             Ps::kGetPool,    Ps::kListPools,  Ps::kCountPools,
                             Ps::kDeletePool, "pool"};
}  // namespace

Result<void> PostgresStore::put_pool(const Pool& pool, PutMode mode) {
    return put_record(*pool_, kPoolSql, pool, pool.name, mode, &bind_pool);
}

Result<std::optional<Pool>> PostgresStore::get_pool(const std::string& name) {
    return get_record<Pool>(*pool_, kPoolSql, name, read_pool);
}

Result<Page<Pool>> PostgresStore::list_pools(int limit, int offset) {
    return list_records<Pool>(*pool_, kPoolSql, limit, offset, read_pool);
}

Result<void> PostgresStore::delete_pool(const std::string& name) {
    if (name == kDefaultPoolName) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("pool '{}' cannot be deleted", kDefaultPoolName)};
    }
    return delete_record(*pool_, kPoolSql, name);
}

Result<std::vector<PoolUsage>> PostgresStore::pool_usage(const std::string& exclude_owner) {
    return with_connection(*pool_, "count pool slots",
                           [&](Call& c) -> Result<std::vector<PoolUsage>> {
                               pqxx::nontransaction tx(c.conn);
                               auto rows = exec(tx, Ps::kPoolUsage, Params().add(exclude_owner));
                               std::vector<PoolUsage> usage;
                               for (const auto& row : rows) {
                                   std::string pool = text(row[0]);
                                   if (usage.empty() || usage.back().pool != pool) {
                                       usage.emplace_back();
                                       usage.back().pool = std::move(pool);
                                   }
                                   add_pool_slots(usage.back(), text(row[1]), int64(row[2]));
                               }
                               return usage;
                           });
}

}  // namespace orquestra::store
