#include "dag/trigger_graph.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <set>
#include <vector>

namespace orquestra::dag {

namespace {

// The first task of `dag` that triggers `target` by a literal dag_id, or nullptr.
const Task* trigger_task(const Dag& dag, std::string_view target) {
    for (const Task& t : dag.tasks) {
        const auto* g = std::get_if<TriggerDagSpec>(&t.kind);
        if (g != nullptr && g->literal_dag_id && *g->literal_dag_id == target) return &t;
    }
    return nullptr;
}

}  // namespace

std::map<std::string, TriggerCycle> find_trigger_cycles(
    const std::map<std::string, std::shared_ptr<const Dag>, std::less<>>& dags) {
    // Edges, each target once, in task order.
    std::map<std::string, std::vector<std::string>, std::less<>> edges;
    for (const auto& [id, dag] : dags) {
        std::vector<std::string>& out = edges[id];
        for (const Task& t : dag->tasks) {
            const auto* g = std::get_if<TriggerDagSpec>(&t.kind);
            if (g == nullptr || !g->literal_dag_id || !dags.contains(*g->literal_dag_id)) continue;
            if (std::find(out.begin(), out.end(), *g->literal_dag_id) == out.end()) {
                out.push_back(*g->literal_dag_id);
            }
        }
    }
    std::map<std::string, TriggerCycle> cycles;
    for (const auto& [start, first_targets] : edges) {
        if (first_targets.empty()) continue;
        // Breadth first from `start` back to it: the shortest cycle through it.
        std::map<std::string, std::string, std::less<>> came_from;
        std::deque<std::string> queue;
        bool closed = false;
        std::string last;  // the DAG whose edge closes the cycle
        for (const auto& t : first_targets) {
            if (t == start) {
                closed = true;
                last = start;
                break;
            }
            if (came_from.emplace(t, start).second) queue.push_back(t);
        }
        while (!closed && !queue.empty()) {
            std::string cur = std::move(queue.front());
            queue.pop_front();
            for (const auto& t : edges[cur]) {
                if (t == start) {
                    closed = true;
                    last = cur;
                    break;
                }
                if (came_from.emplace(t, cur).second) queue.push_back(t);
            }
        }
        if (!closed) continue;
        std::vector<std::string> path;  // start ... last, in trigger order
        for (std::string at = last; at != start; at = came_from.at(at)) path.push_back(at);
        path.push_back(start);
        std::reverse(path.begin(), path.end());
        std::string text;
        for (const auto& id : path) text += id + " -> ";
        text += start;
        const std::string& next = path.size() > 1 ? path[1] : start;
        const Task* task = trigger_task(*dags.find(start)->second, next);
        TriggerCycle c;
        c.line = task != nullptr ? task->line : 0;
        c.message = fmt::format("trigger_dag cycle: {} (task '{}' triggers '{}'); a DAG may "
                                "trigger itself again only through a templated dag_id, which "
                                "is bounded at run time",
                                text, task != nullptr ? task->task_id : std::string(), next);
        cycles.emplace(start, std::move(c));
    }
    return cycles;
}

}  // namespace orquestra::dag
