#pragma once
// EngineMetrics: what the scheduler counts for Prometheus — runs started and finished, tries
// by kind and state, task durations and queue waits, the loop's lag and the size and latency
// of its commits. The engine records on its loop (relaxed atomics, a shared lock to find a
// label set); render() may run on any thread at the same time.

#include "core/metrics.hpp"

#include <atomic>
#include <cstdint>
#include <string>

namespace orquestra::scheduler {

struct EngineMetrics {
    CounterFamily runs_started;   // dag_id
    CounterFamily runs_finished;  // dag_id, state
    CounterFamily tries;          // kind, state (the state a try ended in)
    CounterFamily callbacks;      // event, kind, outcome (ok, failed, dropped)
    HistogramFamily task_duration{duration_bounds()};  // kind: a try's start to its end
    HistogramFamily queue_wait{duration_bounds()};     // kind: decided to running
    // From a flush being asked for to its start on the loop.
    Histogram loop_lag{{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                        0.25, 0.5, 1, 5}};
    // Changes (runs, task instances, tries) in one commit.
    Histogram flush_size{{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 20000}};
    Histogram commit_duration{{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                               0.1, 0.25, 0.5, 1, 5}};
    std::atomic<std::uint64_t> commit_failures{0};
    std::atomic<std::int64_t> active_runs{0};
    // Registry events (on_service): changes of watched services looked at, the runs they
    // started by DAG, and those that started none by reason (queue_full, debounced, paused,
    // max_active_runs, invalid, duplicate, refused).
    std::atomic<std::uint64_t> registry_events{0};
    CounterFamily registry_runs;            // dag_id
    CounterFamily registry_events_dropped;  // reason

    // Prometheus text (HELP and TYPE lines, then the samples).
    void render(std::string& out) const;
};

}  // namespace orquestra::scheduler
