#include "store/model.hpp"

#include <array>

namespace orquestra::store {

namespace {

constexpr std::array<RunState, 4> kAllRunStates = {RunState::kQueued, RunState::kRunning,
                                                   RunState::kSuccess, RunState::kFailed};

constexpr std::array<RunType, 4> kAllRunTypes = {RunType::kManual, RunType::kScheduled,
                                                 RunType::kBackfill, RunType::kRegistryEvent};

constexpr std::array<TaskState, 10> kAllTaskStates = {
    TaskState::kNone,    TaskState::kScheduled,  TaskState::kQueued,
    TaskState::kRunning, TaskState::kSuccess,    TaskState::kFailed,
    TaskState::kUpForRetry, TaskState::kUpstreamFailed, TaskState::kSkipped,
    TaskState::kRemoved};

// Names are matched exactly (Airflow writes them in lower case and so do we).
template <class Enum, std::size_t N>
std::optional<Enum> parse_name(std::string_view s, const std::array<Enum, N>& all) {
    for (Enum value : all) {
        if (s == to_string(value)) return value;
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(RunState s) {
    switch (s) {
        case RunState::kQueued: return "queued";
        case RunState::kRunning: return "running";
        case RunState::kSuccess: return "success";
        case RunState::kFailed: return "failed";
    }
    return "queued";
}

std::string_view to_string(RunType t) {
    switch (t) {
        case RunType::kManual: return "manual";
        case RunType::kScheduled: return "scheduled";
        case RunType::kBackfill: return "backfill";
        case RunType::kRegistryEvent: return "registry_event";
    }
    return "manual";
}

std::string_view to_string(TaskState s) {
    switch (s) {
        case TaskState::kNone: return "none";
        case TaskState::kScheduled: return "scheduled";
        case TaskState::kQueued: return "queued";
        case TaskState::kRunning: return "running";
        case TaskState::kSuccess: return "success";
        case TaskState::kFailed: return "failed";
        case TaskState::kUpForRetry: return "up_for_retry";
        case TaskState::kUpstreamFailed: return "upstream_failed";
        case TaskState::kSkipped: return "skipped";
        case TaskState::kRemoved: return "removed";
    }
    return "none";
}

std::optional<RunState> parse_run_state(std::string_view s) { return parse_name(s, kAllRunStates); }

std::optional<RunType> parse_run_type(std::string_view s) { return parse_name(s, kAllRunTypes); }

std::optional<TaskState> parse_task_state(std::string_view s) {
    return parse_name(s, kAllTaskStates);
}

bool is_finished(TaskState s) {
    switch (s) {
        case TaskState::kSuccess:
        case TaskState::kFailed:
        case TaskState::kSkipped:
        case TaskState::kUpstreamFailed:
        case TaskState::kRemoved: return true;
        case TaskState::kNone:
        case TaskState::kScheduled:
        case TaskState::kQueued:
        case TaskState::kRunning:
        case TaskState::kUpForRetry: return false;
    }
    return false;
}

}  // namespace orquestra::store
