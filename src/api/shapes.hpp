#pragma once
// The JSON shapes of the Airflow stable REST API v1 (airflow/api_connexion/openapi/v1.yaml)
// built from Orquestra's records: DAG, DAGDetail, Task, DAGRun, TaskInstance, XCom,
// ImportError, and RFC 7807 problem bodies. Pure functions of their inputs; thread-safe.
//
// Generated clients check types strictly, so: datetimes are ISO 8601 with an offset or null,
// durations are {"__type": "TimeDelta", "days", "seconds", "microseconds"}, enums carry only
// their documented values (a task instance not yet considered has state null), integers are
// numbers and booleans booleans.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "dag/dag.hpp"
#include "dag/schedule.hpp"
#include "store/model.hpp"

namespace orquestra::api {

// "2024-01-01T06:00:00+00:00", or null.
boost::json::value datetime_json(std::optional<Millis> t);
boost::json::object time_delta_json(Millis duration);
// CronExpression, TimeDelta or null.
boost::json::value schedule_interval_json(const dag::Schedule& schedule);

// What the API knows about one DAG: its switches from the store and, when its file is loaded,
// its definition.
struct DagView {
    store::DagRecord record;
    std::shared_ptr<const dag::Dag> dag;  // null when the file is gone or broken
    bool has_import_errors = false;
    std::optional<dag::Interval> next;  // the next scheduled run's data interval
};

// An opaque token for a DAG file (a digest of its path; Airflow signs the path). The path is
// never read back from it: /dagSources compares it with the tokens of the recorded DAGs' files.
std::string file_token(const std::string& fileloc);

boost::json::object dag_json(const DagView& view);
// DAG plus catchup, start_date, params, timezone, doc_md, dag_run_timeout, ...; needs view.dag.
boost::json::object dag_detail_json(const DagView& view);
boost::json::object task_json(const dag::Dag& dag, const dag::Task& task);
boost::json::object run_json(const store::DagRun& run);
// `logical_date` is the run's (the task instance's execution_date).
boost::json::object task_instance_json(const store::TaskInstance& ti, Millis logical_date);
// One try of a task instance (the tries endpoint): its state, times, host, the service instance
// that served it, its error and `rendered_fields` (what it was asked to do, secrets masked).
boost::json::object task_try_json(const store::TaskTry& t, const store::TaskInstance& ti,
                                  Millis logical_date);
// {task_id, dag_id, execution_date, dag_run_id}
boost::json::object task_instance_reference_json(const store::TaskInstance& ti,
                                                 Millis logical_date);
// The task's output as XCom "return_value"; with_value adds "value" (the single-entry shape):
// with stringify the JSON text of the output, as Airflow 2.8 types it (a string), else the
// JSON value itself.
boost::json::object xcom_json(const store::TaskInstance& ti, Millis logical_date, bool with_value,
                              bool stringify);
boost::json::object import_error_json(const store::ImportError& error);

// The operator's class for a task kind ("http" -> HttpOperator).
std::string_view operator_class(std::string_view kind);

// "Bad Request", "Unauthorized", ... for the statuses the API answers with.
std::string_view status_title(int status);
// {"type", "title", "status", "detail", "instance"} as text.
std::string problem_json(int status, std::string_view detail, std::string_view instance);

}  // namespace orquestra::api
