#include "store/sqlite/migrations.hpp"

#include <array>

namespace orquestra::store {

namespace {

// Conventions: times are INTEGER milliseconds since the epoch, booleans INTEGER 0/1, states and
// run types TEXT with Airflow's names; an optional field is NULL when unset, a plain string is
// NOT NULL (possibly ''). Task instances and tries go away with their run (ON DELETE CASCADE,
// which needs PRAGMA foreign_keys=ON on the connection).
constexpr std::string_view kWorkflowTables = R"sql(
CREATE TABLE dags (
    dag_id                      TEXT    NOT NULL PRIMARY KEY,
    is_paused                   INTEGER NOT NULL DEFAULT 1,
    is_active                   INTEGER NOT NULL DEFAULT 1,
    fileloc                     TEXT    NOT NULL DEFAULT '',
    last_parsed                 INTEGER NOT NULL DEFAULT 0,
    last_scheduled_logical_date INTEGER
);

CREATE TABLE dag_runs (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    dag_id                   TEXT    NOT NULL,
    run_id                   TEXT    NOT NULL,
    run_type                 TEXT    NOT NULL,
    state                    TEXT    NOT NULL,
    logical_date             INTEGER NOT NULL,
    data_interval_start      INTEGER,
    data_interval_end        INTEGER,
    queued_at                INTEGER NOT NULL,
    start_date               INTEGER,
    end_date                 INTEGER,
    conf                     TEXT    NOT NULL DEFAULT '{}',
    note                     TEXT    NOT NULL DEFAULT '',
    external_trigger         INTEGER NOT NULL DEFAULT 1,
    last_scheduling_decision INTEGER,
    UNIQUE (dag_id, run_id)
);
CREATE INDEX dag_runs_state ON dag_runs (state);
CREATE INDEX dag_runs_dag_logical_date ON dag_runs (dag_id, logical_date);

CREATE TABLE task_instances (
    dag_id        TEXT    NOT NULL,
    run_id        TEXT    NOT NULL,
    task_id       TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    try_number    INTEGER NOT NULL DEFAULT 0,
    max_tries     INTEGER NOT NULL DEFAULT 1,
    start_date    INTEGER,
    end_date      INTEGER,
    queued_when   INTEGER,
    next_try_at   INTEGER,
    operator      TEXT    NOT NULL DEFAULT '',
    hostname      TEXT    NOT NULL DEFAULT '',
    served_by     TEXT    NOT NULL DEFAULT '',
    output        TEXT,
    note          TEXT    NOT NULL DEFAULT '',
    pid           INTEGER NOT NULL DEFAULT 0,
    owner         TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (dag_id, run_id, task_id),
    FOREIGN KEY (dag_id, run_id) REFERENCES dag_runs (dag_id, run_id) ON DELETE CASCADE
);
CREATE INDEX task_instances_state ON task_instances (state);

CREATE TABLE task_tries (
    dag_id      TEXT    NOT NULL,
    run_id      TEXT    NOT NULL,
    task_id     TEXT    NOT NULL,
    try_number  INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    start_date  INTEGER NOT NULL,
    end_date    INTEGER,
    hostname    TEXT    NOT NULL DEFAULT '',
    served_by   TEXT    NOT NULL DEFAULT '',
    error       TEXT    NOT NULL DEFAULT '',
    output      TEXT,
    PRIMARY KEY (dag_id, run_id, task_id, try_number),
    FOREIGN KEY (dag_id, run_id, task_id)
        REFERENCES task_instances (dag_id, run_id, task_id) ON DELETE CASCADE
);

CREATE TABLE import_errors (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    filename  TEXT    NOT NULL,
    message   TEXT    NOT NULL,
    timestamp INTEGER NOT NULL
);
)sql";

// Accounts of the REST API and console; no store API uses it yet.
constexpr std::string_view kUsersTable = R"sql(
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL DEFAULT '',
    first_name    TEXT    NOT NULL DEFAULT '',
    last_name     TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL DEFAULT 0
);
)sql";

// What finds a command try's processes after a restart (see executor/process_group.hpp).
constexpr std::string_view kProcessIdentity = R"sql(
ALTER TABLE task_instances ADD COLUMN process_identity TEXT NOT NULL DEFAULT '';
)sql";

// What each try was asked to do (the rendered request or command, secrets masked), as JSON.
constexpr std::string_view kRenderedTries = R"sql(
ALTER TABLE task_tries ADD COLUMN rendered TEXT NOT NULL DEFAULT '';
)sql";

// Several schedulers: who works on each run, and each process's heartbeat.
constexpr std::string_view kSchedulerProcesses = R"sql(
ALTER TABLE dag_runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE TABLE scheduler_processes (
    id           TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL,
    hostname     TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);
)sql";

// Variables and connections; secret values are sealed by the caller (store/secrets.hpp).
constexpr std::string_view kVariablesConnections = R"sql(
CREATE TABLE variables (
    key          TEXT    NOT NULL PRIMARY KEY,
    val          TEXT    NOT NULL,
    description  TEXT,
    is_encrypted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE connections (
    conn_id            TEXT    NOT NULL PRIMARY KEY,
    conn_type          TEXT    NOT NULL,
    description        TEXT,
    host               TEXT,
    port               INTEGER,
    login              TEXT,
    password           TEXT,
    schema             TEXT,
    extra              TEXT,
    is_encrypted       INTEGER NOT NULL DEFAULT 0,
    is_extra_encrypted INTEGER NOT NULL DEFAULT 0
);
)sql";


// The audit log: every trigger, clear, mark, pause, delete and failed login.
constexpr std::string_view kEventLogs = R"sql(
CREATE TABLE event_logs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_time INTEGER NOT NULL,
    event      TEXT    NOT NULL,
    owner      TEXT    NOT NULL DEFAULT '',
    dag_id     TEXT    NOT NULL DEFAULT '',
    run_id     TEXT    NOT NULL DEFAULT '',
    task_id    TEXT    NOT NULL DEFAULT '',
    extra      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX event_logs_time ON event_logs (event_time);
CREATE INDEX event_logs_dag ON event_logs (dag_id);
)sql";

// Pools: named slots shared by every DAG; default_pool always exists (its size set again at a
// scheduler's start when configured). A task instance names its pool and how many slots it takes.
constexpr std::string_view kPools = R"sql(
CREATE TABLE pools (
    name             TEXT    NOT NULL PRIMARY KEY,
    slots            INTEGER NOT NULL,
    description      TEXT,
    include_deferred INTEGER NOT NULL DEFAULT 0
);
INSERT INTO pools (name, slots, description, include_deferred)
    VALUES ('default_pool', 128, 'Default pool', 0);
ALTER TABLE task_instances ADD COLUMN pool TEXT NOT NULL DEFAULT 'default_pool';
ALTER TABLE task_instances ADD COLUMN pool_slots INTEGER NOT NULL DEFAULT 1;
)sql";

// DAG to DAG: the run and task that triggered a run, and how deep the chain of triggers is.
constexpr std::string_view kTriggeredRuns = R"sql(
ALTER TABLE dag_runs ADD COLUMN parent_dag_id TEXT NOT NULL DEFAULT '';
ALTER TABLE dag_runs ADD COLUMN parent_run_id TEXT NOT NULL DEFAULT '';
ALTER TABLE dag_runs ADD COLUMN parent_task_id TEXT NOT NULL DEFAULT '';
ALTER TABLE dag_runs ADD COLUMN trigger_depth INTEGER NOT NULL DEFAULT 0;
)sql";

// Dynamic task mapping: map_index joins the key of task instances and tries (-1: not mapped).
// SQLite cannot change a key in place: both tables are copied into new ones. The old tries go
// first, so that dropping the old task instances cascades to nothing.
constexpr std::string_view kMapIndex = R"sql(
CREATE TABLE task_instances_mapped (
    dag_id           TEXT    NOT NULL,
    run_id           TEXT    NOT NULL,
    task_id          TEXT    NOT NULL,
    map_index        INTEGER NOT NULL DEFAULT -1,
    state            TEXT    NOT NULL,
    try_number       INTEGER NOT NULL DEFAULT 0,
    max_tries        INTEGER NOT NULL DEFAULT 1,
    start_date       INTEGER,
    end_date         INTEGER,
    queued_when      INTEGER,
    next_try_at      INTEGER,
    operator         TEXT    NOT NULL DEFAULT '',
    hostname         TEXT    NOT NULL DEFAULT '',
    served_by        TEXT    NOT NULL DEFAULT '',
    output           TEXT,
    note             TEXT    NOT NULL DEFAULT '',
    pid              INTEGER NOT NULL DEFAULT 0,
    owner            TEXT    NOT NULL DEFAULT '',
    process_identity TEXT    NOT NULL DEFAULT '',
    pool             TEXT    NOT NULL DEFAULT 'default_pool',
    pool_slots       INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (dag_id, run_id, task_id, map_index),
    FOREIGN KEY (dag_id, run_id) REFERENCES dag_runs (dag_id, run_id) ON DELETE CASCADE
);
INSERT INTO task_instances_mapped (dag_id, run_id, task_id, map_index, state, try_number,
    max_tries, start_date, end_date, queued_when, next_try_at, operator, hostname, served_by,
    output, note, pid, owner, process_identity, pool, pool_slots)
SELECT dag_id, run_id, task_id, -1, state, try_number, max_tries, start_date, end_date,
    queued_when, next_try_at, operator, hostname, served_by, output, note, pid, owner,
    process_identity, pool, pool_slots
FROM task_instances;
CREATE TABLE task_tries_mapped (
    dag_id      TEXT    NOT NULL,
    run_id      TEXT    NOT NULL,
    task_id     TEXT    NOT NULL,
    map_index   INTEGER NOT NULL DEFAULT -1,
    try_number  INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    start_date  INTEGER NOT NULL,
    end_date    INTEGER,
    hostname    TEXT    NOT NULL DEFAULT '',
    served_by   TEXT    NOT NULL DEFAULT '',
    error       TEXT    NOT NULL DEFAULT '',
    output      TEXT,
    rendered    TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (dag_id, run_id, task_id, map_index, try_number),
    FOREIGN KEY (dag_id, run_id, task_id, map_index)
        REFERENCES task_instances_mapped (dag_id, run_id, task_id, map_index) ON DELETE CASCADE
);
INSERT INTO task_tries_mapped (dag_id, run_id, task_id, map_index, try_number, state,
    start_date, end_date, hostname, served_by, error, output, rendered)
SELECT dag_id, run_id, task_id, -1, try_number, state, start_date, end_date, hostname,
    served_by, error, output, rendered
FROM task_tries;
DROP TABLE task_tries;
DROP TABLE task_instances;
ALTER TABLE task_instances_mapped RENAME TO task_instances;
ALTER TABLE task_tries_mapped RENAME TO task_tries;
CREATE INDEX task_instances_state ON task_instances (state);
)sql";

constexpr std::array<Migration, 10> kMigrations = {{
    {1, "workflow tables", kWorkflowTables},
    {2, "users", kUsersTable},
    {3, "process identity", kProcessIdentity},
    {4, "rendered tries", kRenderedTries},
    {5, "scheduler processes", kSchedulerProcesses},
    {6, "variables and connections", kVariablesConnections},
    {7, "event logs", kEventLogs},
    {8, "pools", kPools},
    {9, "triggered runs", kTriggeredRuns},
    {10, "map index", kMapIndex},
}};

}  // namespace

std::span<const Migration> sqlite_migrations() { return kMigrations; }

int latest_schema_version() { return kMigrations.back().version; }

}  // namespace orquestra::store
