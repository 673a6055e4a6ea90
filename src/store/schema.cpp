#include "store/schema.hpp"

#include <fmt/format.h>

#include <vector>

namespace orquestra::store::schema {

std::optional<Error> check_page(int limit, int offset) {
    if (limit < 0 || limit > kMaxPageLimit) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("limit must be between 0 and {}, not {}", kMaxPageLimit, limit)};
    }
    if (offset < 0) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("offset must not be negative, not {}", offset)};
    }
    return std::nullopt;
}

namespace {

struct OrderName {
    std::string_view name;
    std::string_view column;
};

constexpr std::array<OrderName, 9> kRunOrderNames = {{
    {"id", "id"},
    {"dag_id", "dag_id"},
    {"run_id", "run_id"},
    {"state", "state"},
    {"logical_date", "logical_date"},
    {"execution_date", "logical_date"},  // Airflow's older name
    {"start_date", "start_date"},
    {"end_date", "end_date"},
    {"queued_at", "queued_at"},
}};

}  // namespace

Result<std::string> run_order_clause(std::string_view order_by, std::string_view ascending,
                                     std::string_view descending_text) {
    if (order_by.empty()) order_by = "id";
    const bool descending = order_by.front() == '-';
    const std::string_view name = descending ? order_by.substr(1) : order_by;
    const std::string_view direction = descending ? descending_text : ascending;
    for (const OrderName& entry : kRunOrderNames) {
        if (entry.name != name) continue;
        if (entry.column == "id") return fmt::format(" ORDER BY id {}", direction);
        return fmt::format(" ORDER BY {} {}, id {}", entry.column, direction, direction);
    }
    std::vector<std::string_view> names;
    for (const OrderName& entry : kRunOrderNames) names.push_back(entry.name);
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("cannot order DAG runs by '{}': expected one of {}, optionally "
                             "preceded by '-'",
                             order_by, fmt::join(names, ", "))};
}

Result<std::string> event_log_order_clause(std::string_view order_by) {
    static constexpr std::array<OrderName, 7> kNames = {{
        {"id", "id"},
        {"when", "event_time"},
        {"event", "event"},
        {"owner", "owner"},
        {"dag_id", "dag_id"},
        {"run_id", "run_id"},
        {"task_id", "task_id"},
    }};
    const bool descending = order_by.starts_with('-');
    const std::string_view name = descending ? order_by.substr(1) : order_by;
    for (const OrderName& n : kNames) {
        if (n.name == name) {
            const std::string_view dir = descending ? "DESC" : "ASC";
            return fmt::format(" ORDER BY {} {}, id {}", n.column, dir, dir);
        }
    }
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("event logs cannot be ordered by '{}': use id, when, event, owner, "
                             "dag_id, run_id or task_id, optionally with a leading '-'",
                             order_by)};
}

Result<std::string> task_order_clause(std::string_view order_by, std::string_view ascending,
                                      std::string_view descending_text) {
    static constexpr std::string_view kKey = "dag_id, run_id, task_id, map_index";
    if (order_by.empty()) return fmt::format(" ORDER BY {}", kKey);
    static constexpr std::array<std::string_view, 5> kNames = {"map_index", "state", "start_date",
                                                               "end_date", "try_number"};
    const bool descending = order_by.starts_with('-');
    const std::string_view name = descending ? order_by.substr(1) : order_by;
    for (std::string_view n : kNames) {
        if (n == name) {
            return fmt::format(" ORDER BY {} {}, {}", n, descending ? descending_text : ascending,
                               kKey);
        }
    }
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("task instances cannot be ordered by '{}': use map_index, state, "
                             "start_date, end_date or try_number, optionally with a leading '-'",
                             order_by)};
}

}  // namespace orquestra::store::schema
