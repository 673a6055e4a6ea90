#pragma once
// Cycles of trigger_dag tasks that can be seen without running anything: the edges are the
// literal (non-templated) dag_ids that trigger_dag tasks name. A DAG that can trigger itself
// again through such edges (a -> a, a -> b -> a) would start runs without end, so DagFolder
// turns each DAG on such a cycle into an import error. Templated targets are bounded at run
// time instead (kMaxTriggerDepth). Pure functions; thread-safe.

#include <map>
#include <memory>
#include <string>

#include "dag/dag.hpp"

namespace orquestra::dag {

struct TriggerCycle {
    int line = 0;         // of the trigger_dag task that starts the cycle, in the DAG's file
    std::string message;  // "trigger_dag cycle: a -> b -> a (task 't' triggers 'b')"
};

// For each DAG on a cycle, the shortest cycle through it, written from it. Edges to DAGs not in
// `dags` are ignored (a trigger of an unknown DAG fails at run time).
std::map<std::string, TriggerCycle> find_trigger_cycles(
    const std::map<std::string, std::shared_ptr<const Dag>, std::less<>>& dags);

}  // namespace orquestra::dag
