#include "dag/dag.hpp"

#include <algorithm>
#include <array>

namespace orquestra::dag {

namespace {

constexpr std::array<std::pair<TriggerRule, std::string_view>, 8> kTriggerRules = {{
    {TriggerRule::kAllSuccess, "all_success"},
    {TriggerRule::kAllFailed, "all_failed"},
    {TriggerRule::kAllDone, "all_done"},
    {TriggerRule::kOneSuccess, "one_success"},
    {TriggerRule::kOneFailed, "one_failed"},
    {TriggerRule::kNoneFailed, "none_failed"},
    {TriggerRule::kNoneSkipped, "none_skipped"},
    {TriggerRule::kAlways, "always"},
}};

}  // namespace

bool is_valid_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxIdLength) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
    });
}

std::string_view to_string(TriggerRule rule) {
    for (const auto& [r, name] : kTriggerRules) {
        if (r == rule) return name;
    }
    return "all_success";
}

std::optional<TriggerRule> parse_trigger_rule(std::string_view text) {
    for (const auto& [r, name] : kTriggerRules) {
        if (name == text) return r;
    }
    return std::nullopt;
}

std::string_view Task::kind_name() const {
    switch (kind.index()) {
        case 0:
            return "http";
        case 1:
            return "command";
        case 3:
            return "trigger_dag";
        default:
            return "wait_for_service";
    }
}

const Task* Dag::find_task(std::string_view task_id) const {
    if (auto it = task_index_.find(std::string(task_id)); it != task_index_.end()) {
        // The index may be stale if `tasks` was edited without reindex(); check before use.
        if (it->second < tasks.size() && tasks[it->second].task_id == task_id) {
            return &tasks[it->second];
        }
    }
    for (const Task& t : tasks) {
        if (t.task_id == task_id) return &t;
    }
    return nullptr;
}

std::vector<std::string> Dag::downstream_of(std::string_view task_id) const {
    std::vector<std::string> out;
    for (const Task& t : tasks) {
        if (std::find(t.upstream.begin(), t.upstream.end(), task_id) != t.upstream.end()) {
            out.push_back(t.task_id);
        }
    }
    return out;
}

void Dag::reindex() {
    task_index_.clear();
    task_index_.reserve(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) task_index_.emplace(tasks[i].task_id, i);
}

}  // namespace orquestra::dag
