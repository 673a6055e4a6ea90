#pragma once
// What both stores share of the schema's shape: each table's columns, written once in the order
// their bind and read functions follow, the page bounds, and the orders runs may be listed in.
// The SQL around them is each store's own (dialects differ); these parts are the same text in
// both.

#include "core/error.hpp"

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace orquestra::store::schema {

inline constexpr int kMaxPageLimit = 1000;

inline constexpr std::array<std::string_view, 6> kDagColumns = {
    "dag_id", "is_paused", "is_active", "fileloc", "last_parsed", "last_scheduled_logical_date"};

// Without "id", which the store assigns; SELECTs read "id" first.
inline constexpr std::array<std::string_view, 19> kRunColumns = {
    "dag_id",           "run_id",
    "run_type",         "state",
    "logical_date",     "data_interval_start",
    "data_interval_end", "queued_at",
    "start_date",       "end_date",
    "conf",             "note",
    "external_trigger", "last_scheduling_decision",
    "owner",
    // Migration 9.
    "parent_dag_id", "parent_run_id", "parent_task_id", "trigger_depth"};

inline constexpr std::array<std::string_view, 6> kProcessColumns = {
    "id", "kind", "hostname", "pid", "started_at", "heartbeat_at"};

// The key first: dag_id, run_id, task_id, map_index (migration 10); pool and pool_slots last
// (migration 8).
inline constexpr std::array<std::string_view, 21> kTaskColumns = {
    "dag_id",     "run_id",   "task_id",     "map_index",   "state",      "try_number",
    "max_tries",  "start_date", "end_date",  "queued_when", "next_try_at", "operator",
    "hostname",   "served_by", "output",     "note",        "pid",        "owner",
    "process_identity", "pool", "pool_slots"};

// Without "id", which the store assigns; SELECTs read "id" first.
inline constexpr std::array<std::string_view, 7> kUserColumns = {
    "username", "password_hash", "role", "email", "first_name", "last_name", "created_at"};

// Without "id", which the store assigns; SELECTs read "id" first.
inline constexpr std::array<std::string_view, 7> kEventLogColumns = {
    "event_time", "event", "owner", "dag_id", "run_id", "task_id", "extra"};

// The key first: dag_id, run_id, task_id, map_index, try_number.
inline constexpr std::array<std::string_view, 13> kTryColumns = {
    "dag_id",   "run_id",   "task_id",   "map_index", "try_number", "state",   "start_date",
    "end_date", "hostname", "served_by", "error",     "output",     "rendered"};

// " ORDER BY ..." for a TaskFilter::order_by name (directions as for run_order_clause), or
// kInvalidArgument naming the valid ones. Ties go by dag_id, run_id, task_id, map_index.
Result<std::string> task_order_clause(std::string_view order_by, std::string_view ascending,
                                      std::string_view descending);

// Migration 6. The key (first) is written last in an UPDATE.
inline constexpr std::array<std::string_view, 4> kVariableColumns = {"key", "val", "description",
                                                                     "is_encrypted"};
inline constexpr std::array<std::string_view, 11> kConnectionColumns = {
    "conn_id", "conn_type", "description", "host",         "port",              "login",
    "password", "schema",   "extra",       "is_encrypted", "is_extra_encrypted"};

// Migration 8. The key (first) is written last in an UPDATE.
inline constexpr std::array<std::string_view, 4> kPoolColumns = {"name", "slots", "description",
                                                                 "include_deferred"};

// kInvalidArgument for a limit outside 0..kMaxPageLimit or a negative offset.
std::optional<Error> check_page(int limit, int offset);

// " ORDER BY <column> <dir>, id <dir>" for a RunFilter::order_by name (a DagRun field, with an
// optional leading '-' for descending), or kInvalidArgument naming the valid ones. The
// directions are the dialect's (where an unset date sorts is said there: lowest in both).
Result<std::string> run_order_clause(std::string_view order_by, std::string_view ascending,
                                     std::string_view descending);

// " ORDER BY <column> <dir>, id <dir>" for an EventLogFilter::order_by name, or
// kInvalidArgument naming the valid ones.
Result<std::string> event_log_order_clause(std::string_view order_by);

}  // namespace orquestra::store::schema
