#include "scheduler/engine_metrics.hpp"

namespace orquestra::scheduler {

void EngineMetrics::render(std::string& out) const {
    metric_header(out, "orquestra_dag_runs_started_total", "counter",
                  "DAG runs that started running, by DAG.");
    runs_started.render(out, "orquestra_dag_runs_started_total");
    metric_header(out, "orquestra_dag_runs_finished_total", "counter",
                  "DAG runs that finished, by DAG and final state.");
    runs_finished.render(out, "orquestra_dag_runs_finished_total");
    metric_header(out, "orquestra_dag_runs_active", "gauge",
                  "DAG runs this scheduler holds, queued or running.");
    metric_sample(out, "orquestra_dag_runs_active", "",
                  static_cast<double>(active_runs.load(std::memory_order_relaxed)));
    metric_header(out, "orquestra_task_tries_total", "counter",
                  "Task tries that ended, by task kind and the state they ended in.");
    tries.render(out, "orquestra_task_tries_total");
    metric_header(out, "orquestra_callbacks_total", "counter",
                  "Callbacks that ended, by event, kind and outcome (ok, failed, dropped).");
    callbacks.render(out, "orquestra_callbacks_total");
    metric_header(out, "orquestra_task_duration_seconds", "histogram",
                  "Time from a try's start to its end, by task kind.");
    task_duration.render(out, "orquestra_task_duration_seconds");
    metric_header(out, "orquestra_task_queue_wait_seconds", "histogram",
                  "Time from a try being decided to it running, by task kind.");
    queue_wait.render(out, "orquestra_task_queue_wait_seconds");
    metric_header(out, "orquestra_scheduler_loop_lag_seconds", "histogram",
                  "Time from a decision being asked for to the scheduler loop making it.");
    loop_lag.render(out, "orquestra_scheduler_loop_lag_seconds", "");
    metric_header(out, "orquestra_scheduler_flush_changes", "histogram",
                  "Changes (runs, task instances, tries) written by one scheduler commit.");
    flush_size.render(out, "orquestra_scheduler_flush_changes", "");
    metric_header(out, "orquestra_store_commit_duration_seconds", "histogram",
                  "Time of the scheduler's commits to the store.");
    commit_duration.render(out, "orquestra_store_commit_duration_seconds", "");
    metric_header(out, "orquestra_on_service_events_total", "counter",
                  "Registry changes of services some DAG's on_service watches.");
    metric_sample(out, "orquestra_on_service_events_total", "",
                  static_cast<double>(registry_events.load(std::memory_order_relaxed)));
    metric_header(out, "orquestra_on_service_runs_total", "counter",
                  "Runs started by registry events (on_service), by DAG.");
    registry_runs.render(out, "orquestra_on_service_runs_total");
    metric_header(out, "orquestra_on_service_events_dropped_total", "counter",
                  "Registry events that started no run, by reason.");
    registry_events_dropped.render(out, "orquestra_on_service_events_dropped_total");
    metric_header(out, "orquestra_store_commit_failures_total", "counter",
                  "Scheduler commits the store refused.");
    metric_sample(out, "orquestra_store_commit_failures_total", "",
                  static_cast<double>(commit_failures.load(std::memory_order_relaxed)));
}

}  // namespace orquestra::scheduler
