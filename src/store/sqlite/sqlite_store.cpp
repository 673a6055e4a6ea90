#include "store/sqlite/sqlite_store.hpp"

#include "core/clock.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/pools.hpp"
#include "store/schema.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace orquestra::store {

using namespace schema;  // the tables' columns, page bounds, run orders

namespace {


ErrorCode code_of(int rc) {
    switch (rc & 0xff) {
        case SQLITE_CONSTRAINT: return ErrorCode::kConflict;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_FULL:
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_PROTOCOL:
        case SQLITE_NOLFS: return ErrorCode::kUnavailable;
        case SQLITE_TOOBIG: return ErrorCode::kTooLarge;
        default: return ErrorCode::kInternal;
    }
}

// Must be called right after the failing call, before anything else touches the connection
// (sqlite3_errmsg describes the connection's most recent call).
Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
    const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    return Error{code_of(rc), fmt::format("{}: {}", what, message)};
}

Error with_subject(Error error, std::string_view subject) {
    error.message = fmt::format("{}: {}", subject, error.message);
    return error;
}

// One execution of a prepared statement: binds parameters in order, steps, reads columns.
// A cached statement is reset, and its bindings cleared, when the Query ends; a statement
// prepared for one use is finalized. Text is bound without a copy, so it must outlive the Query.
class Query {
public:
    Query(sqlite3* db, sqlite3_stmt* stmt, std::string_view what, bool owned)
        : db_(db), stmt_(stmt), what_(what), owned_(owned) {}
    Query(Query&& other) noexcept
        : db_(other.db_),
          stmt_(std::exchange(other.stmt_, nullptr)),
          what_(other.what_),
          owned_(other.owned_),
          next_(other.next_),
          bind_rc_(other.bind_rc_) {}
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;
    Query& operator=(Query&&) = delete;
    ~Query() {
        if (stmt_ == nullptr) return;
        if (owned_) {
            sqlite3_finalize(stmt_);
        } else {
            sqlite3_reset(stmt_);
            sqlite3_clear_bindings(stmt_);
        }
    }

    Query& bind(std::int64_t v) { return check(sqlite3_bind_int64(stmt_, next_++, v)); }
    Query& bind(int v) { return bind(std::int64_t{v}); }
    Query& bind(bool v) { return bind(std::int64_t{v ? 1 : 0}); }
    Query& bind(std::string_view v) {
        // A null data pointer would bind SQL NULL; an empty view must stay ''.
        const char* data = v.data() != nullptr ? v.data() : "";
        return check(sqlite3_bind_text64(stmt_, next_++, data, v.size(), nullptr, SQLITE_UTF8));
    }
    Query& bind(const std::string& v) { return bind(std::string_view(v)); }
    Query& bind(const char* v) { return bind(std::string_view(v)); }
    Query& bind(const std::optional<std::int64_t>& v) {
        return v ? bind(*v) : check(sqlite3_bind_null(stmt_, next_++));
    }
    Query& bind(const std::optional<std::string>& v) {
        return v ? bind(std::string_view(*v)) : check(sqlite3_bind_null(stmt_, next_++));
    }

    // Steps once: true when a row is ready, false when the statement is done.
    Result<bool> step() {
        if (bind_rc_ != SQLITE_OK) return sqlite_error(db_, bind_rc_, what_);
        if (next_ - 1 != sqlite3_bind_parameter_count(stmt_)) {
            return Error{ErrorCode::kInternal,
                         fmt::format("{}: {} parameters bound, {} expected", what_, next_ - 1,
                                     sqlite3_bind_parameter_count(stmt_))};
        }
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        return sqlite_error(db_, rc, what_);
    }

    // Executes a statement that returns no rows.
    Result<void> run() {
        auto row = step();
        if (!row) return row.error();
        return {};
    }

    std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
    bool boolean(int col) const { return int64(col) != 0; }
    std::optional<std::int64_t> opt_int64(int col) const {
        if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
        return int64(col);
    }
    std::string text(int col) const {
        const auto* data = sqlite3_column_text(stmt_, col);
        if (data == nullptr) return {};
        const int size = sqlite3_column_bytes(stmt_, col);  // after column_text, as documented
        return std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size));
    }
    std::optional<std::string> opt_text(int col) const {
        if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
        return text(col);
    }

private:
    Query& check(int rc) {
        if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
        return *this;
    }

    sqlite3* db_;
    sqlite3_stmt* stmt_;
    std::string_view what_;
    bool owned_;
    int next_ = 1;
    int bind_rc_ = SQLITE_OK;
};

// ---------------------------------------------------------------------------------------------
// Statements built from each table's column list (store/schema.hpp); the bind_* / read_*
// functions below follow the same order.

std::string column_list(std::span<const std::string_view> columns) {
    return fmt::format("{}", fmt::join(columns, ", "));
}

std::string insert_sql(std::string_view table, std::span<const std::string_view> columns) {
    std::string placeholders;
    for (std::size_t i = 0; i < columns.size(); ++i) placeholders += i == 0 ? "?" : ", ?";
    return fmt::format("INSERT INTO {} ({}) VALUES ({})", table, column_list(columns),
                       placeholders);
}

// INSERT that updates every non-key column when a row with the same key (the first key_count
// columns) exists; the row keeps its rowid (and so a run its id).
std::string upsert_sql(std::string_view table, std::span<const std::string_view> columns,
                       std::size_t key_count) {
    std::string updates;
    for (std::size_t i = key_count; i < columns.size(); ++i) {
        if (!updates.empty()) updates += ", ";
        if (columns[i] == "rendered") {
            // Written when the try starts; the records of its end carry none.
            updates += "rendered = CASE WHEN excluded.rendered = '' THEN rendered "
                       "ELSE excluded.rendered END";
            continue;
        }
        updates += fmt::format("{0} = excluded.{0}", columns[i]);
    }
    return fmt::format("{} ON CONFLICT ({}) DO UPDATE SET {}", insert_sql(table, columns),
                       column_list(columns.first(key_count)), updates);
}

// UPDATE of every column but the first (the key), which the WHERE names: bound last.
std::string update_sql(std::string_view table, std::span<const std::string_view> columns) {
    std::string sets;
    for (std::size_t i = 1; i < columns.size(); ++i) {
        sets += fmt::format("{}{} = ?", i == 1 ? "" : ", ", columns[i]);
    }
    return fmt::format("UPDATE {} SET {} WHERE {} = ?", table, sets, columns[0]);
}

std::string run_select() {
    return fmt::format("SELECT id, {} FROM dag_runs", column_list(kRunColumns));
}

std::string task_select() {
    return fmt::format("SELECT {} FROM task_instances", column_list(kTaskColumns));
}

void bind_dag(Query& q, const DagRecord& d) {
    q.bind(d.dag_id).bind(d.is_paused).bind(d.is_active).bind(d.fileloc).bind(d.last_parsed);
    q.bind(d.last_scheduled_logical_date);
}

DagRecord read_dag(const Query& q) {
    DagRecord d;
    d.dag_id = q.text(0);
    d.is_paused = q.boolean(1);
    d.is_active = q.boolean(2);
    d.fileloc = q.text(3);
    d.last_parsed = q.int64(4);
    d.last_scheduled_logical_date = q.opt_int64(5);
    return d;
}

void bind_run(Query& q, const DagRun& r) {
    q.bind(r.dag_id).bind(r.run_id).bind(to_string(r.run_type)).bind(to_string(r.state));
    q.bind(r.logical_date).bind(r.data_interval_start).bind(r.data_interval_end);
    q.bind(r.queued_at).bind(r.start_date).bind(r.end_date).bind(r.conf_json).bind(r.note);
    q.bind(r.external_trigger).bind(r.last_scheduling_decision).bind(r.owner);
    q.bind(r.parent_dag_id).bind(r.parent_run_id).bind(r.parent_task_id).bind(r.trigger_depth);
}

Error bad_column(std::string_view table, std::string_view column, std::string_view value) {
    return Error{ErrorCode::kInternal,
                 fmt::format("{} holds an unknown {} '{}'", table, column, value)};
}

Result<DagRun> read_run(const Query& q) {
    DagRun r;
    r.id = q.int64(0);
    r.dag_id = q.text(1);
    r.run_id = q.text(2);
    const std::string run_type = q.text(3);
    const std::string state = q.text(4);
    auto parsed_type = parse_run_type(run_type);
    if (!parsed_type) return bad_column("dag_runs", "run_type", run_type);
    auto parsed_state = parse_run_state(state);
    if (!parsed_state) return bad_column("dag_runs", "state", state);
    r.run_type = *parsed_type;
    r.state = *parsed_state;
    r.logical_date = q.int64(5);
    r.data_interval_start = q.opt_int64(6);
    r.data_interval_end = q.opt_int64(7);
    r.queued_at = q.int64(8);
    r.start_date = q.opt_int64(9);
    r.end_date = q.opt_int64(10);
    r.conf_json = q.text(11);
    r.note = q.text(12);
    r.external_trigger = q.boolean(13);
    r.last_scheduling_decision = q.opt_int64(14);
    r.owner = q.text(15);
    r.parent_dag_id = q.text(16);
    r.parent_run_id = q.text(17);
    r.parent_task_id = q.text(18);
    r.trigger_depth = static_cast<int>(q.int64(19));
    return r;
}

// dag_id and run_id are passed apart: create_run writes the run's ids.
void bind_task(Query& q, const TaskInstance& t, std::string_view dag_id, std::string_view run_id) {
    q.bind(dag_id).bind(run_id).bind(t.task_id).bind(t.map_index).bind(to_string(t.state));
    q.bind(t.try_number).bind(t.max_tries).bind(t.start_date).bind(t.end_date);
    q.bind(t.queued_when).bind(t.next_try_at).bind(t.operator_name).bind(t.hostname);
    q.bind(t.served_by).bind(t.output_json).bind(t.note).bind(t.pid).bind(t.owner);
    q.bind(t.process_identity).bind(t.pool).bind(t.pool_slots);
}

Result<TaskInstance> read_task(const Query& q) {
    TaskInstance t;
    t.dag_id = q.text(0);
    t.run_id = q.text(1);
    t.task_id = q.text(2);
    t.map_index = static_cast<int>(q.int64(3));
    const std::string state = q.text(4);
    auto parsed_state = parse_task_state(state);
    if (!parsed_state) return bad_column("task_instances", "state", state);
    t.state = *parsed_state;
    t.try_number = static_cast<int>(q.int64(5));
    t.max_tries = static_cast<int>(q.int64(6));
    t.start_date = q.opt_int64(7);
    t.end_date = q.opt_int64(8);
    t.queued_when = q.opt_int64(9);
    t.next_try_at = q.opt_int64(10);
    t.operator_name = q.text(11);
    t.hostname = q.text(12);
    t.served_by = q.text(13);
    t.output_json = q.opt_text(14);
    t.note = q.text(15);
    t.pid = static_cast<int>(q.int64(16));
    t.owner = q.text(17);
    t.process_identity = q.text(18);
    t.pool = q.text(19);
    t.pool_slots = static_cast<int>(q.int64(20));
    return t;
}

void bind_try(Query& q, const TaskTry& t) {
    q.bind(t.dag_id).bind(t.run_id).bind(t.task_id).bind(t.map_index).bind(t.try_number);
    q.bind(to_string(t.state)).bind(t.start_date).bind(t.end_date).bind(t.hostname);
    q.bind(t.served_by).bind(t.error).bind(t.output_json).bind(t.rendered_json);
}

Result<TaskTry> read_try(const Query& q) {
    TaskTry t;
    t.dag_id = q.text(0);
    t.run_id = q.text(1);
    t.task_id = q.text(2);
    t.map_index = static_cast<int>(q.int64(3));
    t.try_number = static_cast<int>(q.int64(4));
    const std::string state = q.text(5);
    auto parsed_state = parse_task_state(state);
    if (!parsed_state) return bad_column("task_tries", "state", state);
    t.state = *parsed_state;
    t.start_date = q.int64(6);
    t.end_date = q.opt_int64(7);
    t.hostname = q.text(8);
    t.served_by = q.text(9);
    t.error = q.text(10);
    t.output_json = q.opt_text(11);
    t.rendered_json = q.text(12);
    return t;
}

ImportError read_import_error(const Query& q) {
    ImportError e;
    e.id = q.int64(0);
    e.filename = q.text(1);
    e.message = q.text(2);
    e.timestamp = q.int64(3);
    return e;
}

void bind_user(Query& q, const User& u) {
    q.bind(u.username).bind(u.password_hash).bind(u.role).bind(u.email).bind(u.first_name);
    q.bind(u.last_name).bind(u.created_at);
}

User read_user(const Query& q) {
    User u;
    u.id = q.int64(0);
    u.username = q.text(1);
    u.password_hash = q.text(2);
    u.role = q.text(3);
    u.email = q.text(4);
    u.first_name = q.text(5);
    u.last_name = q.text(6);
    u.created_at = q.int64(7);
    return u;
}

void bind_event_log(Query& q, const EventLog& e) {
    q.bind(e.when).bind(e.event).bind(e.owner).bind(e.dag_id).bind(e.run_id).bind(e.task_id);
    q.bind(e.extra);
}

EventLog read_event_log(const Query& q) {
    EventLog e;
    e.id = q.int64(0);
    e.when = q.int64(1);
    e.event = q.text(2);
    e.owner = q.text(3);
    e.dag_id = q.text(4);
    e.run_id = q.text(5);
    e.task_id = q.text(6);
    e.extra = q.text(7);
    return e;
}

// The key last when `key_last` (an UPDATE's WHERE), first otherwise (kVariableColumns' order).
void bind_variable(Query& q, const Variable& v, bool key_last) {
    if (!key_last) q.bind(v.key);
    q.bind(v.value).bind(v.description).bind(v.is_encrypted);
    if (key_last) q.bind(v.key);
}

Variable read_variable(const Query& q) {
    Variable v;
    v.key = q.text(0);
    v.value = q.text(1);
    v.description = q.opt_text(2);
    v.is_encrypted = q.boolean(3);
    return v;
}

void bind_connection(Query& q, const Connection& c, bool key_last) {
    if (!key_last) q.bind(c.conn_id);
    q.bind(c.conn_type).bind(c.description).bind(c.host).bind(c.port).bind(c.login);
    q.bind(c.password).bind(c.schema).bind(c.extra).bind(c.is_encrypted);
    q.bind(c.is_extra_encrypted);
    if (key_last) q.bind(c.conn_id);
}

Connection read_connection(const Query& q) {
    Connection c;
    c.conn_id = q.text(0);
    c.conn_type = q.text(1);
    c.description = q.opt_text(2);
    c.host = q.opt_text(3);
    c.port = q.opt_int64(4);
    c.login = q.opt_text(5);
    c.password = q.opt_text(6);
    c.schema = q.opt_text(7);
    c.extra = q.opt_text(8);
    c.is_encrypted = q.boolean(9);
    c.is_extra_encrypted = q.boolean(10);
    return c;
}

void bind_pool(Query& q, const Pool& p, bool key_last) {
    if (!key_last) q.bind(p.name);
    q.bind(p.slots).bind(p.description).bind(p.include_deferred);
    if (key_last) q.bind(p.name);
}

Pool read_pool(const Query& q) {
    Pool p;
    p.name = q.text(0);
    p.slots = q.int64(1);
    p.description = q.opt_text(2);
    p.include_deferred = q.boolean(3);
    return p;
}

// Steps through every row, converting each with read (returning T or Result<T>).
template <class T, class Read>
Result<std::vector<T>> read_all(Query& q, Read read) {
    std::vector<T> items;
    for (;;) {
        auto row = q.step();
        if (!row) return row.error();
        if (!*row) return items;
        if constexpr (std::is_same_v<std::invoke_result_t<Read, const Query&>, T>) {
            items.push_back(read(q));
        } else {
            auto item = read(q);
            if (!item) return item.error();
            items.push_back(std::move(*item));
        }
    }
}

template <class T, class Read>
Result<std::optional<T>> read_optional(Query& q, Read read) {
    auto rows = read_all<T>(q, read);
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<T>{};
    return std::optional<T>(std::move(rows->front()));
}

// ---------------------------------------------------------------------------------------------
// The cached statements.

enum class Sql : std::size_t {
    kBeginImmediate,
    kBeginDeferred,
    kCommit,
    kRollback,
    kMigrationsTableExists,
    kSchemaVersion,
    kRecordMigration,
    kUpsertDag,
    kGetDag,
    kListDags,
    kInsertRun,
    kUpsertRun,
    kGetRun,
    kUnfinishedRuns,
    kDeleteRun,
    kInsertTask,
    kUpsertTask,
    kGetTask,
    kTasksOfRun,
    kDeleteTask,
    kUpsertTry,
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
    kClaimableRuns,
    kSetRunOwner,
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

constexpr std::size_t kSqlCount = static_cast<std::size_t>(Sql::kCount);

struct StatementText {
    std::string_view what;  // names the statement in error messages
    std::string sql;
};

StatementText statement_text(Sql id) {
    switch (id) {
        case Sql::kBeginImmediate: return {"begin", "BEGIN IMMEDIATE"};
        case Sql::kBeginDeferred: return {"begin", "BEGIN DEFERRED"};
        case Sql::kCommit: return {"commit", "COMMIT"};
        case Sql::kRollback: return {"rollback", "ROLLBACK"};
        case Sql::kMigrationsTableExists:
            return {"read schema version",
                    "SELECT COUNT(*) FROM sqlite_schema "
                    "WHERE type = 'table' AND name = 'schema_migrations'"};
        case Sql::kSchemaVersion:
            return {"read schema version",
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"};
        case Sql::kRecordMigration:
            return {"record migration",
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"};
        case Sql::kUpsertDag: return {"upsert DAG", upsert_sql("dags", kDagColumns, 1)};
        case Sql::kGetDag:
            return {"get DAG", fmt::format("SELECT {} FROM dags WHERE dag_id = ?",
                                           column_list(kDagColumns))};
        case Sql::kListDags:
            return {"list DAGs",
                    fmt::format("SELECT {} FROM dags ORDER BY dag_id", column_list(kDagColumns))};
        case Sql::kInsertRun:
            return {"insert DAG run", insert_sql("dag_runs", kRunColumns) +
                                          " ON CONFLICT (dag_id, run_id) DO NOTHING RETURNING id"};
        case Sql::kUpsertRun: return {"upsert DAG run", upsert_sql("dag_runs", kRunColumns, 2)};
        case Sql::kGetRun:
            return {"get DAG run", run_select() + " WHERE dag_id = ? AND run_id = ?"};
        case Sql::kUnfinishedRuns:
            return {"list unfinished runs",
                    run_select() + " WHERE state IN ('queued', 'running') ORDER BY id"};
        case Sql::kDeleteRun:
            return {"delete DAG run", "DELETE FROM dag_runs WHERE dag_id = ? AND run_id = ?"};
        case Sql::kInsertTask:
            return {"insert task instance", insert_sql("task_instances", kTaskColumns)};
        case Sql::kUpsertTask:
            return {"upsert task instance", upsert_sql("task_instances", kTaskColumns, 4)};
        case Sql::kGetTask:
            return {"get task instance",
                    task_select() +
                        " WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?"};
        case Sql::kTasksOfRun:
            return {"list task instances",
                    task_select() +
                        " WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index"};
        case Sql::kDeleteTask:
            return {"delete task instance", "DELETE FROM task_instances WHERE dag_id = ? AND "
                                            "run_id = ? AND task_id = ? AND map_index = ?"};
        case Sql::kUpsertTry: return {"upsert task try", upsert_sql("task_tries", kTryColumns, 5)};
        case Sql::kTriesOfTask:
            return {"list task tries",
                    fmt::format("SELECT {} FROM task_tries WHERE dag_id = ? AND run_id = ? AND "
                                "task_id = ? AND map_index = ? ORDER BY try_number",
                                column_list(kTryColumns))};
        case Sql::kDeleteImportErrors:
            return {"delete import errors", "DELETE FROM import_errors"};
        case Sql::kInsertImportError:
            return {"insert import error",
                    "INSERT INTO import_errors (filename, message, timestamp) VALUES (?, ?, ?)"};
        case Sql::kListImportErrors:
            return {"list import errors",
                    "SELECT id, filename, message, timestamp FROM import_errors ORDER BY id"};
        case Sql::kInsertUser:
            return {"insert user", insert_sql("users", kUserColumns) +
                                       " ON CONFLICT (username) DO NOTHING RETURNING id"};
        case Sql::kGetUser:
            return {"get user", fmt::format("SELECT id, {} FROM users WHERE username = ?",
                                            column_list(kUserColumns))};
        case Sql::kInsertProcess:
            return {"record scheduler process",
                    upsert_sql("scheduler_processes", kProcessColumns, 1)};
        case Sql::kBeatProcess:
            return {"record heartbeat",
                    "UPDATE scheduler_processes SET heartbeat_at = ? WHERE id = ?"};
        case Sql::kDeleteDeadProcesses:
            return {"remove dead scheduler processes",
                    "DELETE FROM scheduler_processes WHERE id <> ? AND "
                    "(heartbeat_at < ? OR (? AND kind = 'scheduler'))"};
        case Sql::kClaimableRuns:
            return {"list claimable runs",
                    run_select() + " WHERE state IN ('queued', 'running') AND owner <> ? AND "
                                   "owner NOT IN (SELECT id FROM scheduler_processes) "
                                   "ORDER BY id LIMIT ?"};
        case Sql::kSetRunOwner:
            return {"claim run", "UPDATE dag_runs SET owner = ? WHERE id = ?"};
        case Sql::kListProcesses:
            return {"list scheduler processes",
                    fmt::format("SELECT {} FROM scheduler_processes ORDER BY id",
                                column_list(kProcessColumns))};
        case Sql::kListUsers:
            return {"list users", fmt::format("SELECT id, {} FROM users ORDER BY username",
                                              column_list(kUserColumns))};
        case Sql::kDeleteUser: return {"delete user", "DELETE FROM users WHERE username = ?"};
        case Sql::kUpdateUser:
            return {"update user",
                    "UPDATE users SET password_hash = ?, role = ?, email = ?, first_name = ?, "
                    "last_name = ? WHERE username = ?"};
        case Sql::kInsertEventLog:
            return {"insert event log", insert_sql("event_logs", kEventLogColumns) +
                                            " RETURNING id"};
        case Sql::kGetEventLog:
            return {"get event log", fmt::format("SELECT id, {} FROM event_logs WHERE id = ?",
                                                 column_list(kEventLogColumns))};
        case Sql::kInsertVariable:
            return {"insert variable",
                    insert_sql("variables", kVariableColumns) + " ON CONFLICT (key) DO NOTHING"};
        case Sql::kUpdateVariable: return {"update variable", update_sql("variables", kVariableColumns)};
        case Sql::kUpsertVariable:
            return {"upsert variable", upsert_sql("variables", kVariableColumns, 1)};
        case Sql::kGetVariable:
            return {"get variable", fmt::format("SELECT {} FROM variables WHERE key = ?",
                                                column_list(kVariableColumns))};
        case Sql::kListVariables:
            return {"list variables",
                    fmt::format("SELECT {} FROM variables ORDER BY key LIMIT ? OFFSET ?",
                                column_list(kVariableColumns))};
        case Sql::kCountVariables: return {"count variables", "SELECT COUNT(*) FROM variables"};
        case Sql::kDeleteVariable:
            return {"delete variable", "DELETE FROM variables WHERE key = ?"};
        case Sql::kInsertConnection:
            return {"insert connection", insert_sql("connections", kConnectionColumns) +
                                             " ON CONFLICT (conn_id) DO NOTHING"};
        case Sql::kUpdateConnection:
            return {"update connection", update_sql("connections", kConnectionColumns)};
        case Sql::kUpsertConnection:
            return {"upsert connection", upsert_sql("connections", kConnectionColumns, 1)};
        case Sql::kGetConnection:
            return {"get connection", fmt::format("SELECT {} FROM connections WHERE conn_id = ?",
                                                  column_list(kConnectionColumns))};
        case Sql::kListConnections:
            return {"list connections",
                    fmt::format("SELECT {} FROM connections ORDER BY conn_id LIMIT ? OFFSET ?",
                                column_list(kConnectionColumns))};
        case Sql::kCountConnections:
            return {"count connections", "SELECT COUNT(*) FROM connections"};
        case Sql::kDeleteConnection:
            return {"delete connection", "DELETE FROM connections WHERE conn_id = ?"};
        case Sql::kInsertPool:
            return {"insert pool",
                    insert_sql("pools", kPoolColumns) + " ON CONFLICT (name) DO NOTHING"};
        case Sql::kUpdatePool: return {"update pool", update_sql("pools", kPoolColumns)};
        case Sql::kUpsertPool: return {"upsert pool", upsert_sql("pools", kPoolColumns, 1)};
        case Sql::kGetPool:
            return {"get pool", fmt::format("SELECT {} FROM pools WHERE name = ?",
                                            column_list(kPoolColumns))};
        case Sql::kListPools:
            return {"list pools", fmt::format("SELECT {} FROM pools ORDER BY name LIMIT ? OFFSET ?",
                                              column_list(kPoolColumns))};
        case Sql::kCountPools: return {"count pools", "SELECT COUNT(*) FROM pools"};
        case Sql::kDeletePool: return {"delete pool", "DELETE FROM pools WHERE name = ?"};
        case Sql::kPoolUsage:
            return {"count pool slots",
                    "SELECT pool, state, SUM(pool_slots) FROM task_instances "
                    "WHERE state IN ('scheduled', 'queued', 'running') AND (? = '' OR owner <> ?) "
                    "GROUP BY pool, state ORDER BY pool"};
        case Sql::kCount: break;
    }
    return {"unknown statement", ""};
}

const StatementText& statement(Sql id) {
    static const std::array<StatementText, kSqlCount> texts = [] {
        std::array<StatementText, kSqlCount> all;
        for (std::size_t i = 0; i < kSqlCount; ++i) all[i] = statement_text(static_cast<Sql>(i));
        return all;
    }();
    return texts[static_cast<std::size_t>(id)];
}

// ---------------------------------------------------------------------------------------------
// Filters of the list queries, whose SQL depends on the filter: built from fixed fragments only,
// every value travels as a bound parameter.

struct Where {
    std::string sql;  // "" or " WHERE a AND b ..."
    std::vector<std::variant<std::int64_t, std::string_view>> args;

    void add(std::string_view clause) {
        sql += sql.empty() ? " WHERE " : " AND ";
        sql += clause;
    }
    void add_if(std::string_view clause, const std::optional<std::int64_t>& value) {
        if (!value) return;
        add(clause);
        args.emplace_back(*value);
    }
    void add_if(std::string_view clause, const std::optional<std::string>& value) {
        if (!value) return;
        add(clause);
        args.emplace_back(std::string_view(*value));
    }
    // column IN (values...); nothing when `values` is empty (any). The values must outlive
    // the query (they are bound as views).
    void add_any(std::string_view column, const std::vector<std::string>& values) {
        if (values.empty()) return;
        std::string clause = std::string(column) + " IN (";
        for (std::size_t i = 0; i < values.size(); ++i) {
            clause += i == 0 ? "?" : ", ?";
            args.emplace_back(std::string_view(values[i]));
        }
        add(clause + ")");
    }
    template <class State>
    void add_states(const std::vector<State>& states) {
        if (states.empty()) return;
        std::string clause = "state IN (";
        for (std::size_t i = 0; i < states.size(); ++i) {
            clause += i == 0 ? "?" : ", ?";
            args.emplace_back(to_string(states[i]));  // static storage
        }
        add(clause + ")");
    }
    void bind(Query& q) const {
        for (const auto& arg : args) std::visit([&q](const auto& v) { q.bind(v); }, arg);
    }
};


}  // namespace

// ---------------------------------------------------------------------------------------------

// The connection and its cached statements. Not thread-safe: SqliteStore's mutex guards it.
class SqliteConnection {
public:
    explicit SqliteConnection(sqlite3* db) : db_(db) { statements_.fill(nullptr); }
    ~SqliteConnection() {
        for (sqlite3_stmt* stmt : statements_) sqlite3_finalize(stmt);
        sqlite3_close(db_);
    }
    SqliteConnection(const SqliteConnection&) = delete;
    SqliteConnection& operator=(const SqliteConnection&) = delete;

    sqlite3* db() const { return db_; }

    // A statement prepared once and kept for the connection's lifetime.
    Result<Query> cached(Sql id) {
        const StatementText& text = statement(id);
        sqlite3_stmt*& stmt = statements_[static_cast<std::size_t>(id)];
        if (stmt == nullptr) {
            const int rc = sqlite3_prepare_v3(db_, text.sql.c_str(),
                                              static_cast<int>(text.sql.size() + 1),
                                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
            if (rc != SQLITE_OK) {
                sqlite3_finalize(stmt);
                stmt = nullptr;
                return sqlite_error(db_, rc, text.what);
            }
        }
        return Query(db_, stmt, text.what, false);
    }

    // A statement whose text varies (the list queries), finalized after use.
    Result<Query> once(std::string_view what, const std::string& sql) {
        sqlite3_stmt* stmt = nullptr;
        const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1), 0,
                                          &stmt, nullptr);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(stmt);
            return sqlite_error(db_, rc, what);
        }
        return Query(db_, stmt, what, true);
    }

    Result<void> run(Sql id) {
        auto query = cached(id);
        if (!query) return query.error();
        return query->run();
    }

    // Runs a script of statements without parameters (migrations, PRAGMAs).
    Result<void> exec(std::string_view what, std::string_view sql) {
        const std::string text(sql);
        const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK) return sqlite_error(db_, rc, what);
        return {};
    }

    // Runs body (returning a Result) in a transaction: committed when body succeeds, rolled
    // back whole when body or the commit fails. Write transactions begin IMMEDIATE so that they
    // take the write lock up front and wait (busy_timeout) rather than fail on upgrade.
    //
    // A write transaction first checks that the database file is still where it was opened:
    // writing to a file that was deleted or replaced would acknowledge what nobody can read
    // after a restart.
    template <class Body>
    std::invoke_result_t<Body&> transaction(Sql begin, Body&& body) {
        if (begin == Sql::kBeginImmediate) {
            if (auto here = check_in_place(); !here) return here.error();
        }
        if (auto started = run(begin); !started) return started.error();
        auto result = body();
        if (!result) {
            rollback();
            return result;
        }
        if (auto committed = run(Sql::kCommit); !committed) {
            rollback();
            return committed.error();
        }
        return result;
    }

    Result<void> check_in_place() {
        int moved = 0;
        const int rc = sqlite3_file_control(db_, "main", SQLITE_FCNTL_HAS_MOVED, &moved);
        if (rc != SQLITE_OK) return sqlite_error(db_, rc, "check the database file");
        if (moved != 0) {
            const char* name = sqlite3_db_filename(db_, "main");
            return Error{ErrorCode::kUnavailable,
                         fmt::format("the database file {} was deleted or replaced while in use; "
                                     "nothing more is stored: restart orquestra",
                                     name != nullptr ? name : "")};
        }
        return {};
    }

private:
    void rollback() {
        // Some errors (a full disk, an I/O error) have already rolled the transaction back.
        if (sqlite3_get_autocommit(db_) != 0) return;
        if (!run(Sql::kRollback)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }

    sqlite3* db_;
    std::array<sqlite3_stmt*, kSqlCount> statements_;
};

namespace {

// Needs the table to exist; callers check or create it first.
Result<int> applied_version(SqliteConnection& c) {
    auto q = c.cached(Sql::kSchemaVersion);
    if (!q) return q.error();
    auto row = q->step();
    if (!row) return row.error();
    return static_cast<int>(q->int64(0));
}

Result<bool> migrations_table_exists(SqliteConnection& c) {
    auto q = c.cached(Sql::kMigrationsTableExists);
    if (!q) return q.error();
    auto row = q->step();
    if (!row) return row.error();
    return q->int64(0) > 0;
}

}  // namespace

SqliteStore::SqliteStore(std::unique_ptr<SqliteConnection> connection,
                         std::filesystem::path file)
    : db_(std::move(connection)), file_(std::move(file)) {}

SqliteStore::~SqliteStore() {
    if (scheduler_lock_ >= 0) ::close(scheduler_lock_);
}

Result<void> SqliteStore::check_writable() {
    std::lock_guard lock(mu_);
    SqliteConnection& c = *db_;
    // Takes the write lock and gives it back: fails on a read-only or vanished database.
    return c.transaction(Sql::kBeginImmediate, [] { return Result<void>{}; });
}

Result<void> SqliteStore::claim_scheduler() {
    std::lock_guard lock(mu_);
    if (scheduler_lock_ >= 0) return {};
    const std::string path = file_.string() + "-scheduler.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return Error{ErrorCode::kUnavailable,
                     fmt::format("cannot open {}: {}", path, std::strerror(errno))};
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        char buf[32] = {};
        const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
        ::close(fd);
        std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
        if (err == EWOULDBLOCK) {
            return Error{ErrorCode::kConflict,
                         fmt::format("the database {} is in use by another scheduler (process "
                                     "{}); with SQLite only one may run",
                                     file_.string(), holder.empty() ? "unknown" : holder)};
        }
        return Error{ErrorCode::kUnavailable,
                     fmt::format("cannot lock {}: {}", path, std::strerror(err))};
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        spdlog::warn("cannot write the scheduler's pid to {}: {}", path, std::strerror(errno));
    }
    scheduler_lock_ = fd;
    return {};
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& file,
                                                       SqliteOptions options) {
    if (file.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(file.parent_path(), ec);
        if (ec) {
            return Error{ErrorCode::kUnavailable,
                         fmt::format("cannot create directory {}: {}",
                                     file.parent_path().string(), ec.message())};
        }
    }
    const std::string what = fmt::format("open {}", file.string());
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(
        file.c_str(), &raw,
        SQLITE_OPEN_READWRITE | (options.query_only ? 0 : SQLITE_OPEN_CREATE) |
            SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
        nullptr);
    // Owns raw from here, so it is closed on every path (even when the open failed).
    auto connection = std::make_unique<SqliteConnection>(raw);
    if (rc != SQLITE_OK) return sqlite_error(raw, rc, what);
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, options.busy_timeout_ms);

    if (options.query_only) {
        // A reader next to the writer: the file is already in WAL mode (the writer set it, and
        // it persists), and this connection refuses any change.
        if (auto set = connection->exec(what, "PRAGMA query_only = ON;"); !set) return set.error();
        return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(connection), file));
    }
    // WAL: readers never block the writer, and a commit appends to the log without an fsync
    // under synchronous=NORMAL (the log is synced at checkpoints).
    {
        auto q = connection->once(what, "PRAGMA journal_mode = WAL");
        if (!q) return q.error();
        auto row = q->step();
        if (!row) return row.error();
        if (!*row || q->text(0) != "wal") {
            return Error{ErrorCode::kUnavailable,
                         fmt::format("{}: cannot switch the journal to WAL mode", what)};
        }
    }
    const std::string pragmas =
        fmt::format("PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
                    options.synchronous_full ? "FULL" : "NORMAL");
    if (auto set = connection->exec(what, pragmas); !set) return set.error();
    {
        // foreign_keys is silently ignored by a build without them, and deletes must cascade.
        auto q = connection->once(what, "PRAGMA foreign_keys");
        if (!q) return q.error();
        auto row = q->step();
        if (!row) return row.error();
        if (!*row || q->int64(0) != 1) {
            return Error{ErrorCode::kInternal,
                         fmt::format("{}: this SQLite does not enforce foreign keys", what)};
        }
    }
    return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(connection), file));
}

Result<void> SqliteStore::migrate() {
    std::lock_guard lock(mu_);
    SqliteConnection& c = *db_;
    auto created = c.exec("create schema_migrations",
                          "CREATE TABLE IF NOT EXISTS schema_migrations ("
                          "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    if (!created) return created;
    auto current = applied_version(c);
    if (!current) return current.error();
    if (*current > latest_schema_version()) {
        return Error{ErrorCode::kUnavailable,
                     fmt::format("the database has schema version {}, newer than this program's "
                                 "{}: upgrade orquestra",
                                 *current, latest_schema_version())};
    }
    for (const Migration& migration : sqlite_migrations()) {
        // The version is read again inside the write transaction: another process may have
        // applied the migration meanwhile.
        auto applied = c.transaction(Sql::kBeginImmediate, [&]() -> Result<void> {
            auto version = applied_version(c);
            if (!version) return version.error();
            if (*version >= migration.version) return {};
            if (auto r = c.exec(migration.name, migration.sql); !r) return r;
            auto q = c.cached(Sql::kRecordMigration);
            if (!q) return q.error();
            q->bind(migration.version).bind(SystemClock::instance().now_ms());
            return q->run();
        });
        if (!applied) {
            return with_subject(applied.error(),
                                fmt::format("migration {} ({})", migration.version,
                                            migration.name));
        }
    }
    return {};
}

Result<int> SqliteStore::schema_version() {
    std::lock_guard lock(mu_);
    auto exists = migrations_table_exists(*db_);
    if (!exists) return exists.error();
    if (!*exists) return 0;
    return applied_version(*db_);
}

Result<void> SqliteStore::upsert_dag(const DagRecord& dag) {
    std::lock_guard lock(mu_);
    if (auto here = db_->check_in_place(); !here) return here.error();
    auto q = db_->cached(Sql::kUpsertDag);
    if (!q) return q.error();
    bind_dag(*q, dag);
    return q->run();
}

Result<std::optional<DagRecord>> SqliteStore::get_dag(const std::string& dag_id) {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kGetDag);
    if (!q) return q.error();
    q->bind(dag_id);
    return read_optional<DagRecord>(*q, read_dag);
}

Result<std::vector<DagRecord>> SqliteStore::list_dags() {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kListDags);
    if (!q) return q.error();
    return read_all<DagRecord>(*q, read_dag);
}

Result<DagRun> SqliteStore::create_run(const DagRun& run, const std::vector<TaskInstance>& tasks) {
    for (const TaskInstance& task : tasks) {
        if ((!task.dag_id.empty() && task.dag_id != run.dag_id) ||
            (!task.run_id.empty() && task.run_id != run.run_id)) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("task instance '{}' names run '{}' of DAG '{}', not run '{}' "
                                     "of DAG '{}'",
                                     task.task_id, task.run_id, task.dag_id, run.run_id,
                                     run.dag_id)};
        }
    }
    std::lock_guard lock(mu_);
    SqliteConnection& c = *db_;
    return c.transaction(Sql::kBeginImmediate, [&]() -> Result<DagRun> {
        DagRun created = run;
        {
            auto q = c.cached(Sql::kInsertRun);
            if (!q) return q.error();
            bind_run(*q, run);
            auto row = q->step();
            if (!row) return row.error();
            if (!*row) {
                return Error{ErrorCode::kConflict,
                             fmt::format("DAG run '{}' already exists for DAG '{}'", run.run_id,
                                         run.dag_id)};
            }
            created.id = q->int64(0);
        }
        for (const TaskInstance& task : tasks) {
            auto q = c.cached(Sql::kInsertTask);
            if (!q) return q.error();
            bind_task(*q, task, run.dag_id, run.run_id);
            if (auto r = q->run(); !r) {
                return with_subject(r.error(), fmt::format("task '{}'", task.task_id));
            }
        }
        return created;
    });
}

Result<std::optional<DagRun>> SqliteStore::get_run(const std::string& dag_id,
                                                   const std::string& run_id) {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kGetRun);
    if (!q) return q.error();
    q->bind(dag_id).bind(run_id);
    return read_optional<DagRun>(*q, read_run);
}

Result<Page<DagRun>> SqliteStore::list_runs(const RunFilter& filter) {
    if (auto bad = check_page(filter.limit, filter.offset)) return *bad;
    auto order = run_order_clause(filter.order_by, "ASC", "DESC");
    if (!order) return order.error();

    if (filter.dag_ids.size() > 1000) {
        return Error{ErrorCode::kInvalidArgument, "at most 1000 DAG ids in one filter"};
    }
    Where where;
    where.add_if("dag_id = ?", filter.dag_id);
    where.add_any("dag_id", filter.dag_ids);
    where.add_states(filter.states);
    where.add_if("logical_date >= ?", filter.logical_date_gte);
    where.add_if("logical_date <= ?", filter.logical_date_lte);
    where.add_if("start_date >= ?", filter.start_date_gte);
    where.add_if("start_date <= ?", filter.start_date_lte);
    where.add_if("end_date >= ?", filter.end_date_gte);
    where.add_if("end_date <= ?", filter.end_date_lte);

    std::lock_guard lock(mu_);
    SqliteConnection& c = *db_;
    // One read transaction: the total and the page come from the same snapshot.
    return c.transaction(Sql::kBeginDeferred, [&]() -> Result<Page<DagRun>> {
        Page<DagRun> page;
        {
            auto q = c.once("count DAG runs", "SELECT COUNT(*) FROM dag_runs" + where.sql);
            if (!q) return q.error();
            where.bind(*q);
            auto row = q->step();
            if (!row) return row.error();
            page.total = q->int64(0);
        }
        auto q = c.once("list DAG runs",
                        run_select() + where.sql + *order + " LIMIT ? OFFSET ?");
        if (!q) return q.error();
        where.bind(*q);
        q->bind(filter.limit).bind(filter.offset);
        auto items = read_all<DagRun>(*q, read_run);
        if (!items) return items.error();
        page.items = std::move(*items);
        return page;
    });
}

Result<std::vector<RunCount>> SqliteStore::count_runs() {
    std::lock_guard lock(mu_);
    auto q = db_->once("count runs by DAG and state",
                       "SELECT dag_id, state, COUNT(*) FROM dag_runs GROUP BY dag_id, state");
    if (!q) return q.error();
    return read_all<RunCount>(*q, [](const Query& row) -> Result<RunCount> {
        RunCount c;
        c.dag_id = row.text(0);
        const std::string state = row.text(1);
        auto parsed = parse_run_state(state);
        if (!parsed) return bad_column("dag_runs", "state", state);
        c.state = *parsed;
        c.count = row.int64(2);
        return c;
    });
}

Result<std::vector<DagRun>> SqliteStore::unfinished_runs() {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kUnfinishedRuns);
    if (!q) return q.error();
    return read_all<DagRun>(*q, read_run);
}

Result<void> SqliteStore::delete_run(const std::string& dag_id, const std::string& run_id) {
    std::lock_guard lock(mu_);
    if (auto here = db_->check_in_place(); !here) return here.error();
    auto q = db_->cached(Sql::kDeleteRun);
    if (!q) return q.error();
    q->bind(dag_id).bind(run_id);
    if (auto r = q->run(); !r) return r;
    // Counts the run row only, not the task instances and tries removed by the cascade.
    if (sqlite3_changes(db_->db()) == 0) {
        return Error{ErrorCode::kNotFound,
                     fmt::format("DAG run '{}' not found for DAG '{}'", run_id, dag_id)};
    }
    return {};
}

Result<std::vector<TaskInstance>> SqliteStore::task_instances(const std::string& dag_id,
                                                              const std::string& run_id) {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kTasksOfRun);
    if (!q) return q.error();
    q->bind(dag_id).bind(run_id);
    return read_all<TaskInstance>(*q, read_task);
}

Result<std::vector<TaskInstance>> SqliteStore::task_instances_of_runs(
    const std::string& dag_id, const std::vector<std::string>& run_ids) {
    if (run_ids.empty()) return std::vector<TaskInstance>{};
    if (run_ids.size() > 1000) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("at most 1000 runs at once, not {}", run_ids.size())};
    }
    std::string marks;
    for (std::size_t i = 0; i < run_ids.size(); ++i) marks += i == 0 ? "?" : ", ?";
    std::lock_guard lock(mu_);
    auto q = db_->once("list task instances of runs",
                       task_select() + " WHERE dag_id = ? AND run_id IN (" + marks +
                           ") ORDER BY run_id, task_id, map_index");
    if (!q) return q.error();
    q->bind(dag_id);
    for (const auto& id : run_ids) q->bind(id);
    return read_all<TaskInstance>(*q, read_task);
}

Result<std::optional<TaskInstance>> SqliteStore::get_task_instance(const std::string& dag_id,
                                                                   const std::string& run_id,
                                                                   const std::string& task_id,
                                                                   int map_index) {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kGetTask);
    if (!q) return q.error();
    q->bind(dag_id).bind(run_id).bind(task_id).bind(map_index);
    return read_optional<TaskInstance>(*q, read_task);
}

Result<Page<TaskInstance>> SqliteStore::list_task_instances(const TaskFilter& filter) {
    if (auto bad = check_page(filter.limit, filter.offset)) return *bad;

    if (filter.dag_ids.size() + filter.run_ids.size() + filter.task_ids.size() > 1000) {
        return Error{ErrorCode::kInvalidArgument, "at most 1000 ids in one filter"};
    }
    Where where;
    where.add_if("dag_id = ?", filter.dag_id);
    where.add_if("run_id = ?", filter.run_id);
    where.add_any("dag_id", filter.dag_ids);
    where.add_any("run_id", filter.run_ids);
    where.add_any("task_id", filter.task_ids);
    where.add_states(filter.states);
    where.add_if("start_date >= ?", filter.start_date_gte);
    where.add_if("start_date <= ?", filter.start_date_lte);
    where.add_if("end_date >= ?", filter.end_date_gte);
    where.add_if("end_date <= ?", filter.end_date_lte);
    if (filter.mapped_only) where.add_if("map_index >= ?", std::optional<std::int64_t>(0));
    auto order = task_order_clause(filter.order_by, "ASC", "DESC");
    if (!order) return order.error();

    std::lock_guard lock(mu_);
    SqliteConnection& c = *db_;
    return c.transaction(Sql::kBeginDeferred, [&]() -> Result<Page<TaskInstance>> {
        Page<TaskInstance> page;
        {
            auto q =
                c.once("count task instances", "SELECT COUNT(*) FROM task_instances" + where.sql);
            if (!q) return q.error();
            where.bind(*q);
            auto row = q->step();
            if (!row) return row.error();
            page.total = q->int64(0);
        }
        auto q = c.once("list task instances",
                        task_select() + where.sql +
                            *order + " LIMIT ? OFFSET ?");
        if (!q) return q.error();
        where.bind(*q);
        q->bind(filter.limit).bind(filter.offset);
        auto items = read_all<TaskInstance>(*q, read_task);
        if (!items) return items.error();
        page.items = std::move(*items);
        return page;
    });
}

Result<std::vector<TaskTry>> SqliteStore::tries(const std::string& dag_id,
                                                const std::string& run_id,
                                                const std::string& task_id,
                                                int map_index) {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kTriesOfTask);
    if (!q) return q.error();
    q->bind(dag_id).bind(run_id).bind(task_id).bind(map_index);
    return read_all<TaskTry>(*q, read_try);
}

Result<void> SqliteStore::commit(const Changes& changes) {
    if (changes.empty()) return {};
    std::lock_guard lock(mu_);
    SqliteConnection& c = *db_;
    return c.transaction(Sql::kBeginImmediate, [&]() -> Result<void> {
        // Parents before children: the foreign keys are checked statement by statement.
        for (const DagRun& run : changes.runs) {
            auto q = c.cached(Sql::kUpsertRun);
            if (!q) return q.error();
            bind_run(*q, run);
            if (auto r = q->run(); !r) {
                return with_subject(r.error(), fmt::format("DAG run '{}' of DAG '{}'",
                                                           run.run_id, run.dag_id));
            }
        }
        for (const TaskInstance& task : changes.removed_tasks) {
            auto q = c.cached(Sql::kDeleteTask);
            if (!q) return q.error();
            q->bind(task.dag_id).bind(task.run_id).bind(task.task_id).bind(task.map_index);
            if (auto r = q->run(); !r) return r;
        }
        for (const TaskInstance& task : changes.tasks) {
            auto q = c.cached(Sql::kUpsertTask);
            if (!q) return q.error();
            bind_task(*q, task, task.dag_id, task.run_id);
            if (auto r = q->run(); !r) {
                return with_subject(r.error(), fmt::format("task instance {}/{}/{}", task.dag_id,
                                                           task.run_id, task.task_id));
            }
        }
        for (const TaskTry& attempt : changes.tries) {
            auto q = c.cached(Sql::kUpsertTry);
            if (!q) return q.error();
            bind_try(*q, attempt);
            if (auto r = q->run(); !r) {
                return with_subject(r.error(),
                                    fmt::format("try {} of task instance {}/{}/{}",
                                                attempt.try_number, attempt.dag_id,
                                                attempt.run_id, attempt.task_id));
            }
        }
        return {};
    });
}

Result<void> SqliteStore::replace_import_errors(const std::vector<ImportError>& errors) {
    std::lock_guard lock(mu_);
    SqliteConnection& c = *db_;
    return c.transaction(Sql::kBeginImmediate, [&]() -> Result<void> {
        if (auto r = c.run(Sql::kDeleteImportErrors); !r) return r;
        for (const ImportError& error : errors) {
            auto q = c.cached(Sql::kInsertImportError);
            if (!q) return q.error();
            q->bind(error.filename).bind(error.message).bind(error.timestamp);
            if (auto r = q->run(); !r) return r;
        }
        return {};
    });
}

Result<std::vector<ImportError>> SqliteStore::import_errors() {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kListImportErrors);
    if (!q) return q.error();
    return read_all<ImportError>(*q, read_import_error);
}

Result<User> SqliteStore::create_user(const User& user) {
    std::lock_guard lock(mu_);
    if (auto here = db_->check_in_place(); !here) return here.error();
    auto q = db_->cached(Sql::kInsertUser);
    if (!q) return q.error();
    bind_user(*q, user);
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) {
        return Error{ErrorCode::kConflict,
                     fmt::format("user '{}' already exists", user.username)};
    }
    User created = user;
    created.id = q->int64(0);
    return created;
}

Result<std::optional<User>> SqliteStore::get_user(const std::string& username) {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kGetUser);
    if (!q) return q.error();
    q->bind(username);
    return read_optional<User>(*q, read_user);
}

Result<std::vector<User>> SqliteStore::list_users() {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kListUsers);
    if (!q) return q.error();
    return read_all<User>(*q, read_user);
}

Result<void> SqliteStore::delete_user(const std::string& username) {
    std::lock_guard lock(mu_);
    if (auto here = db_->check_in_place(); !here) return here.error();
    auto q = db_->cached(Sql::kDeleteUser);
    if (!q) return q.error();
    q->bind(username);
    if (auto r = q->run(); !r) return r;
    if (sqlite3_changes(db_->db()) == 0) {
        return Error{ErrorCode::kNotFound, fmt::format("user '{}' not found", username)};
    }
    return {};
}

Result<void> SqliteStore::update_user(const User& user) {
    std::lock_guard lock(mu_);
    if (auto here = db_->check_in_place(); !here) return here.error();
    auto q = db_->cached(Sql::kUpdateUser);
    if (!q) return q.error();
    q->bind(user.password_hash).bind(user.role).bind(user.email).bind(user.first_name);
    q->bind(user.last_name).bind(user.username);
    if (auto r = q->run(); !r) return r;
    if (sqlite3_changes(db_->db()) == 0) {
        return Error{ErrorCode::kNotFound, fmt::format("user '{}' not found", user.username)};
    }
    return {};
}

Result<EventLog> SqliteStore::add_event_log(const EventLog& entry) {
    std::lock_guard lock(mu_);
    if (auto here = db_->check_in_place(); !here) return here.error();
    auto q = db_->cached(Sql::kInsertEventLog);
    if (!q) return q.error();
    bind_event_log(*q, entry);
    auto row = q->step();
    if (!row) return row.error();
    EventLog added = entry;
    added.id = *row ? q->int64(0) : 0;
    return added;
}

Result<std::optional<EventLog>> SqliteStore::get_event_log(std::int64_t id) {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kGetEventLog);
    if (!q) return q.error();
    q->bind(id);
    return read_optional<EventLog>(*q, read_event_log);
}

Result<Page<EventLog>> SqliteStore::list_event_logs(const EventLogFilter& filter) {
    if (auto bad = check_page(filter.limit, filter.offset)) return *bad;
    auto order = event_log_order_clause(filter.order_by);
    if (!order) return order.error();
    if (filter.included_events.size() > 1000 || filter.excluded_events.size() > 1000) {
        return Error{ErrorCode::kInvalidArgument, "at most 1000 events in one filter"};
    }
    Where where;
    where.add_if("dag_id = ?", filter.dag_id);
    where.add_if("run_id = ?", filter.run_id);
    where.add_if("task_id = ?", filter.task_id);
    where.add_if("event = ?", filter.event);
    where.add_if("owner = ?", filter.owner);
    where.add_if("event_time >= ?", filter.after);
    where.add_if("event_time <= ?", filter.before);
    where.add_any("event", filter.included_events);
    if (!filter.excluded_events.empty()) {
        std::string clause = "event NOT IN (";
        for (std::size_t i = 0; i < filter.excluded_events.size(); ++i) {
            clause += i == 0 ? "?" : ", ?";
            where.args.emplace_back(std::string_view(filter.excluded_events[i]));
        }
        where.add(clause + ")");
    }
    std::lock_guard lock(mu_);
    SqliteConnection& c = *db_;
    return c.transaction(Sql::kBeginDeferred, [&]() -> Result<Page<EventLog>> {
        Page<EventLog> page;
        {
            auto q = c.once("count event logs", "SELECT COUNT(*) FROM event_logs" + where.sql);
            if (!q) return q.error();
            where.bind(*q);
            auto row = q->step();
            if (!row) return row.error();
            page.total = q->int64(0);
        }
        auto q = c.once("list event logs",
                        fmt::format("SELECT id, {} FROM event_logs{}{} LIMIT ? OFFSET ?",
                                    column_list(kEventLogColumns), where.sql, *order));
        if (!q) return q.error();
        where.bind(*q);
        q->bind(filter.limit).bind(filter.offset);
        auto items = read_all<EventLog>(*q, read_event_log);
        if (!items) return items.error();
        page.items = std::move(*items);
        return page;
    });
}

Result<void> SqliteStore::heartbeat(const SchedulerProcess& process, bool first) {
    std::lock_guard lock(mu_);
    if (auto here = db_->check_in_place(); !here) return here.error();
    auto q = db_->cached(first ? Sql::kInsertProcess : Sql::kBeatProcess);
    if (!q) return q.error();
    if (first) {
        q->bind(process.id).bind(process.kind).bind(process.hostname).bind(process.pid);
        q->bind(process.started_at).bind(process.heartbeat_at);
    } else {
        q->bind(process.heartbeat_at).bind(process.id);
    }
    if (auto r = q->run(); !r) return r;
    if (sqlite3_changes(db_->db()) == 0) {
        return Error{ErrorCode::kNotFound,
                     fmt::format("scheduler process '{}' has no heartbeat row", process.id)};
    }
    return {};
}

Result<std::vector<DagRun>> SqliteStore::claim_runs(const ClaimRequest& request) {
    std::lock_guard lock(mu_);
    SqliteConnection& c = *db_;
    // One write transaction: no other connection claims between the read and the updates.
    return c.transaction(Sql::kBeginImmediate, [&]() -> Result<std::vector<DagRun>> {
        {
            auto q = c.cached(Sql::kDeleteDeadProcesses);
            if (!q) return q.error();
            q->bind(request.owner).bind(request.dead_before).bind(request.other_schedulers_dead);
            if (auto r = q->run(); !r) return r.error();
        }
        std::vector<DagRun> runs;
        {
            auto q = c.cached(Sql::kClaimableRuns);
            if (!q) return q.error();
            q->bind(request.owner).bind(static_cast<std::int64_t>(std::max(0, request.limit)));
            auto all = read_all<DagRun>(*q, read_run);
            if (!all) return all.error();
            runs = std::move(*all);
        }
        for (auto& run : runs) {
            auto q = c.cached(Sql::kSetRunOwner);
            if (!q) return q.error();
            q->bind(request.owner).bind(run.id);
            if (auto r = q->run(); !r) return r.error();
            run.owner = request.owner;
        }
        return runs;
    });
}

Result<std::vector<SchedulerProcess>> SqliteStore::scheduler_processes() {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kListProcesses);
    if (!q) return q.error();
    return read_all<SchedulerProcess>(*q, [](const Query& row) -> Result<SchedulerProcess> {
        SchedulerProcess p;
        p.id = row.text(0);
        p.kind = row.text(1);
        p.hostname = row.text(2);
        p.pid = row.int64(3);
        p.started_at = row.int64(4);
        p.heartbeat_at = row.int64(5);
        return p;
    });
}

// --- variables and connections --------------------------------------------------------------

namespace {

// The statements of one kind of record (variables or connections) for the shared code below.
struct RecordSql {
    Sql insert, update, upsert, get, list, count, remove;
    std::string_view noun;  // "variable", "connection"
};

constexpr RecordSql kVariableSql{Sql::kInsertVariable, Sql::kUpdateVariable,
                                 Sql::kUpsertVariable, Sql::kGetVariable,
                                 Sql::kListVariables,  Sql::kCountVariables,
                                 Sql::kDeleteVariable, "variable"};
constexpr RecordSql kConnectionSql{Sql::kInsertConnection, Sql::kUpdateConnection,
                                   Sql::kUpsertConnection, Sql::kGetConnection,
                                   Sql::kListConnections,  Sql::kCountConnections,
                                   Sql::kDeleteConnection, "connection"};

Sql put_statement(const RecordSql& sql, PutMode mode) {
    switch (mode) {
        case PutMode::kCreate: return sql.insert;
        case PutMode::kUpdate: return sql.update;
        case PutMode::kUpsert: break;
    }
    return sql.upsert;
}

}  // namespace

template <class Record, class Bind>
static Result<void> put_record(SqliteConnection& db, const RecordSql& sql, const Record& record,
                               const std::string& id, PutMode mode, Bind bind) {
    if (auto here = db.check_in_place(); !here) return here.error();
    auto q = db.cached(put_statement(sql, mode));
    if (!q) return q.error();
    bind(*q, record, mode == PutMode::kUpdate);
    if (auto r = q->run(); !r) return with_subject(r.error(), fmt::format("{} '{}'", sql.noun, id));
    if (mode != PutMode::kUpsert && sqlite3_changes(db.db()) == 0) {
        if (mode == PutMode::kCreate) {
            return Error{ErrorCode::kConflict, fmt::format("{} '{}' already exists", sql.noun, id)};
        }
        return Error{ErrorCode::kNotFound, fmt::format("{} '{}' not found", sql.noun, id)};
    }
    return {};
}

template <class Record, class Read>
static Result<Page<Record>> list_records(SqliteConnection& db, const RecordSql& sql, int limit,
                                         int offset, Read read) {
    if (auto bad = check_page(limit, offset)) return *bad;
    Page<Record> page;
    {
        auto q = db.cached(sql.count);
        if (!q) return q.error();
        auto row = q->step();
        if (!row) return row.error();
        page.total = *row ? q->int64(0) : 0;
    }
    auto q = db.cached(sql.list);
    if (!q) return q.error();
    q->bind(limit).bind(offset);
    auto items = read_all<Record>(*q, read);
    if (!items) return items.error();
    page.items = std::move(*items);
    return page;
}

static Result<void> delete_record(SqliteConnection& db, const RecordSql& sql,
                                  const std::string& id) {
    if (auto here = db.check_in_place(); !here) return here.error();
    auto q = db.cached(sql.remove);
    if (!q) return q.error();
    q->bind(id);
    if (auto r = q->run(); !r) return r;
    if (sqlite3_changes(db.db()) == 0) {
        return Error{ErrorCode::kNotFound, fmt::format("{} '{}' not found", sql.noun, id)};
    }
    return {};
}

Result<void> SqliteStore::put_variable(const Variable& variable, PutMode mode) {
    std::lock_guard lock(mu_);
    return put_record(*db_, kVariableSql, variable, variable.key, mode, &bind_variable);
}

Result<std::optional<Variable>> SqliteStore::get_variable(const std::string& key) {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kGetVariable);
    if (!q) return q.error();
    q->bind(key);
    return read_optional<Variable>(*q, read_variable);
}

Result<Page<Variable>> SqliteStore::list_variables(int limit, int offset) {
    std::lock_guard lock(mu_);
    return list_records<Variable>(*db_, kVariableSql, limit, offset, read_variable);
}

Result<void> SqliteStore::delete_variable(const std::string& key) {
    std::lock_guard lock(mu_);
    return delete_record(*db_, kVariableSql, key);
}

Result<void> SqliteStore::put_connection(const Connection& connection, PutMode mode) {
    std::lock_guard lock(mu_);
    return put_record(*db_, kConnectionSql, connection, connection.conn_id, mode,
                      &bind_connection);
}

Result<std::optional<Connection>> SqliteStore::get_connection(const std::string& conn_id) {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kGetConnection);
    if (!q) return q.error();
    q->bind(conn_id);
    return read_optional<Connection>(*q, read_connection);
}

Result<Page<Connection>> SqliteStore::list_connections(int limit, int offset) {
    std::lock_guard lock(mu_);
    return list_records<Connection>(*db_, kConnectionSql, limit, offset, read_connection);
}

Result<void> SqliteStore::delete_connection(const std::string& conn_id) {
    std::lock_guard lock(mu_);
    return delete_record(*db_, kConnectionSql, conn_id);
}

// --- pools ----------------------------------------------------------------------------------

namespace {
constexpr RecordSql kPoolSql{Sql::kInsertPool, Sql::kUpdatePool, Sql::kUpsertPool,
                             Sql::kGetPool,    Sql::kListPools,  Sql::kCountPools,
                             Sql::kDeletePool, "pool"};
}  // namespace

Result<void> SqliteStore::put_pool(const Pool& pool, PutMode mode) {
    std::lock_guard lock(mu_);
    return put_record(*db_, kPoolSql, pool, pool.name, mode, &bind_pool);
}

Result<std::optional<Pool>> SqliteStore::get_pool(const std::string& name) {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kGetPool);
    if (!q) return q.error();
    q->bind(name);
    return read_optional<Pool>(*q, read_pool);
}

Result<Page<Pool>> SqliteStore::list_pools(int limit, int offset) {
    std::lock_guard lock(mu_);
    return list_records<Pool>(*db_, kPoolSql, limit, offset, read_pool);
}

Result<void> SqliteStore::delete_pool(const std::string& name) {
    if (name == kDefaultPoolName) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("pool '{}' cannot be deleted", kDefaultPoolName)};
    }
    std::lock_guard lock(mu_);
    return delete_record(*db_, kPoolSql, name);
}

Result<std::vector<PoolUsage>> SqliteStore::pool_usage(const std::string& exclude_owner) {
    std::lock_guard lock(mu_);
    auto q = db_->cached(Sql::kPoolUsage);
    if (!q) return q.error();
    q->bind(exclude_owner).bind(exclude_owner);
    std::vector<PoolUsage> usage;
    for (;;) {
        auto row = q->step();
        if (!row) return row.error();
        if (!*row) break;
        std::string pool = q->text(0);
        if (usage.empty() || usage.back().pool != pool) {
            usage.emplace_back();
            usage.back().pool = std::move(pool);
        }
        add_pool_slots(usage.back(), q->text(1), q->int64(2));
    }
    return usage;
}

}  // namespace orquestra::store
