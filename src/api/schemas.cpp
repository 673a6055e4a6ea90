#include "api/schemas.hpp"

#include <boost/json/array.hpp>
#include <string>
#include <vector>

namespace orquestra::api {

namespace json = boost::json;

namespace {

using V = boost::beast::http::verb;

// One property: its name (`name?` when it may be absent) and its type (see schemas.hpp).
struct Property {
    std::string_view name;
    std::string_view type;
};

struct SchemaSpec {
    std::string_view name;
    std::string_view description;
    std::vector<Property> properties;
};

// A string schema with a fixed set of values.
struct EnumSpec {
    std::string_view name;
    std::string_view description;
    std::vector<std::string_view> values;
};

std::vector<Property> plus(std::vector<Property> a, const std::vector<Property>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// --- the shapes -------------------------------------------------------------------------------
// Each list follows the function that writes the shape; change both together.

// dag_json (shapes.cpp)
const std::vector<Property> kDag = {
    {"dag_id", "string"},
    {"dag_display_name", "string"},
    {"root_dag_id", "string?"},
    {"is_paused", "boolean"},
    {"is_active", "boolean"},
    {"is_subdag", "boolean"},
    {"last_parsed_time", "datetime?"},
    {"last_pickled", "datetime?"},
    {"last_expired", "datetime?"},
    {"scheduler_lock", "boolean?"},
    {"pickle_id", "string?"},
    {"default_view", "string"},
    {"fileloc", "string"},
    {"file_token", "string"},
    {"owners", "string[]"},
    {"description", "string?"},
    {"schedule_interval", "ScheduleInterval?"},
    {"timetable_description", "string?"},
    {"tags", "Tag[]"},
    {"max_active_tasks", "integer?"},
    {"max_active_runs", "integer?"},
    {"max_consecutive_failed_dag_runs", "integer"},
    {"has_task_concurrency_limits", "boolean"},
    {"has_import_errors", "boolean"},
    {"next_dagrun", "datetime?"},
    {"next_dagrun_data_interval_start", "datetime?"},
    {"next_dagrun_data_interval_end", "datetime?"},
    {"next_dagrun_create_after", "datetime?"},
};

// dag_detail_json: present when the DAG's file is loaded.
const std::vector<Property> kDagDetailExtra = {
    {"timezone?", "string"},
    {"catchup?", "boolean"},
    {"orientation?", "string"},
    {"concurrency?", "integer"},
    {"start_date?", "datetime?"},
    {"end_date?", "datetime?"},
    {"dag_run_timeout?", "TimeDelta?"},
    {"dataset_expression?", "object?"},
    {"doc_md?", "string?"},
    {"is_paused_upon_creation?", "boolean?"},
    {"last_parsed?", "datetime?"},
    {"template_search_path?", "string[]?"},
    {"render_template_as_native_obj?", "boolean?"},
    {"params?", "map<Param>"},
};

// run_json
const std::vector<Property> kDagRun = {
    {"dag_run_id", "string"},
    {"dag_id", "string"},
    {"logical_date", "datetime?"},
    {"execution_date", "datetime?"},
    {"start_date", "datetime?"},
    {"end_date", "datetime?"},
    {"data_interval_start", "datetime?"},
    {"data_interval_end", "datetime?"},
    {"last_scheduling_decision", "datetime?"},
    {"run_type", "string"},
    {"state", "DagState"},
    {"external_trigger", "boolean"},
    {"conf", "object"},
    {"note", "string?"},
    // Not Airflow's: the trigger_dag task whose try created the run (dag_id, dag_run_id,
    // task_id, depth), or null.
    {"triggered_by?", "object?"},
};

// import_error_json
const std::vector<Property> kImportError = {
    {"import_error_id", "integer"},
    {"timestamp", "datetime?"},
    {"filename", "string"},
    {"stack_trace", "string"},
};

// xcom_json without its value
const std::vector<Property> kXcomItem = {
    {"key", "string"},
    {"timestamp", "datetime"},
    {"execution_date", "datetime"},
    {"map_index", "integer"},
    {"task_id", "string"},
    {"dag_id", "string"},
    {"dag_run_id", "string"},
};

// connection_item_json (connections.cpp)
const std::vector<Property> kConnectionItem = {
    {"connection_id", "string"},
    {"conn_type", "string"},
    {"description", "string?"},
    {"host", "string?"},
    {"login", "string?"},
    {"schema", "string?"},
    {"port", "integer?"},
};

// service_json (service_health.cpp): one service's breakers (ServiceBreakers repeats them,
// each optional).
const std::vector<Property> kServiceHealth = {
    {"service", "string"},
    {"requests", "integer"},
    {"failovers", "integer"},
    {"failovers_denied", "integer"},
    {"retry_budget_tokens", "number"},
    {"instances", "InstanceBreaker[]"},
};

const std::vector<SchemaSpec>& schema_table() {
    static const std::vector<SchemaSpec> kSchemas = {
        {"Error", "RFC 7807 problem details: every error answer", {
            {"type", "string"},
            {"title", "string"},
            {"status", "integer"},
            {"detail", "string"},
            {"instance", "string"},
        }},
        // --- monitoring
        {"HealthInfo", "Health of the metadatabase and the scheduler (the triggerer and the "
                       "DAG processor do not exist here: their status is null)", {
            {"metadatabase", "MetadatabaseStatus"},
            {"scheduler", "SchedulerStatus"},
            {"triggerer", "TriggererStatus"},
            {"dag_processor", "DagProcessorStatus"},
        }},
        {"MetadatabaseStatus", "", {{"status", "HealthStatus"}}},
        {"SchedulerStatus", "", {
            {"status", "HealthStatus"},
            {"latest_scheduler_heartbeat", "datetime?"},
        }},
        {"TriggererStatus", "", {
            {"status", "HealthStatus?"},
            {"latest_triggerer_heartbeat", "datetime?"},
        }},
        {"DagProcessorStatus", "", {
            {"status", "HealthStatus?"},
            {"latest_dag_processor_heartbeat", "datetime?"},
        }},
        {"VersionInfo", "", {{"version", "string"}, {"git_version", "string?"}}},
        // --- DAGs
        {"DAG", "A DAG: its switches and, when its file is loaded, its definition", kDag},
        {"DAGDetail", "A DAG with the details of its definition (those are absent when the "
                      "DAG's file is gone)", plus(kDag, kDagDetailExtra)},
        {"DAGCollection", "", {{"dags", "DAG[]"}, {"total_entries", "integer"}}},
        {"DAGPatch", "Only is_paused is read; a whole DAG may be sent back", {
            {"is_paused", "boolean"},
        }},
        {"Tag", "", {{"name", "string"}}},
        {"Param", "A DAG param", {
            {"__class", "string"},
            {"value", "any?"},
            {"description", "any?"},
            {"schema", "object"},
        }},
        {"TimeDelta", "A duration", {
            {"__type", "string"},
            {"days", "integer"},
            {"seconds", "integer"},
            {"microseconds", "integer"},
        }},
        {"CronExpression", "A cron schedule", {{"__type", "string"}, {"value", "string"}}},
        {"ClassReference", "", {{"class_name", "string"}, {"module_path", "string"}}},
        {"Task", "A task of a DAG", {
            {"class_ref", "ClassReference"},
            {"task_id", "string"},
            {"task_display_name", "string"},
            {"owner", "string"},
            {"start_date", "datetime?"},
            {"end_date", "datetime?"},
            {"trigger_rule", "string"},
            {"extra_links", "object[]"},
            {"depends_on_past", "boolean"},
            {"is_mapped", "boolean"},
            {"wait_for_downstream", "boolean"},
            {"retries", "integer"},
            {"queue", "string"},
            {"executor", "string?"},
            {"pool", "string"},
            {"pool_slots", "integer"},
            {"execution_timeout", "TimeDelta?"},
            {"retry_delay", "TimeDelta"},
            {"retry_exponential_backoff", "boolean"},
            {"priority_weight", "integer"},
            {"weight_rule", "string"},
            {"ui_color", "string"},
            {"ui_fgcolor", "string"},
            {"template_fields", "string[]"},
            {"downstream_task_ids", "string[]"},
            {"doc_md", "string?"},
        }},
        {"TaskCollection", "", {{"tasks", "Task[]"}, {"total_entries", "integer"}}},
        {"DagSource", "A DAG file's text", {{"content", "string"}}},
        // --- runs
        {"DAGRun", "A run of a DAG", kDagRun},
        {"DAGRunCollection", "", {{"dag_runs", "DAGRun[]"}, {"total_entries", "integer"}}},
        {"TriggerDAGRun", "The run to create; everything may be left out", {
            {"dag_run_id?", "string?"},
            {"logical_date?", "datetime?"},
            {"execution_date?", "datetime?"},
            {"conf?", "object?"},
            {"note?", "string?"},
        }},
        {"UpdateDagRunState", "", {{"state", "string"}}},
        {"ClearDagRun", "dry_run (default true) answers the task instances that would be "
                        "cleared; false clears them and answers the run", {
            {"dry_run?", "boolean?"},
        }},
        {"ListDagRunsForm", "The filters of the batch run list", {
            {"order_by?", "string?"},
            {"page_offset?", "integer?"},
            {"page_limit?", "integer?"},
            {"dag_ids?", "string[]?"},
            {"states?", "string[]?"},
            {"execution_date_gte?", "datetime?"},
            {"execution_date_lte?", "datetime?"},
            {"start_date_gte?", "datetime?"},
            {"start_date_lte?", "datetime?"},
            {"end_date_gte?", "datetime?"},
            {"end_date_lte?", "datetime?"},
        }},
        // --- task instances
        {"TaskInstance", "A task of a run (task_instance_json)", {
            {"task_id", "string"},
            {"task_display_name", "string"},
            {"dag_id", "string"},
            {"dag_run_id", "string"},
            {"execution_date", "datetime"},
            {"start_date", "datetime?"},
            {"end_date", "datetime?"},
            {"duration", "number?"},
            {"state", "TaskState?"},
            {"try_number", "integer"},
            {"map_index", "integer"},
            {"max_tries", "integer"},
            {"hostname", "string"},
            {"served_by", "string"},
            {"unixname", "string"},
            {"pool", "string"},
            {"pool_slots", "integer"},
            {"queue", "string"},
            {"priority_weight", "integer"},
            {"operator", "string?"},
            {"queued_when", "datetime?"},
            {"pid", "integer?"},
            {"executor", "string?"},
            {"executor_config", "string"},
            {"sla_miss", "object?"},
            {"rendered_map_index", "string?"},
            {"rendered_fields", "object"},
            {"trigger", "object?"},
            {"triggerer_job", "object?"},
            {"note", "string?"},
        }},
        {"TaskInstanceCollection", "", {
            {"task_instances", "TaskInstance[]"},
            {"total_entries", "integer"},
        }},
        {"TaskTry", "One try of a task instance (task_try_json)", {
            {"task_id", "string"},
            {"dag_id", "string"},
            {"dag_run_id", "string"},
            {"execution_date", "datetime"},
            {"try_number", "integer"},
            {"map_index", "integer"},
            {"state", "TaskState?"},
            {"start_date", "datetime"},
            {"end_date", "datetime?"},
            {"duration", "number?"},
            {"hostname", "string"},
            {"served_by", "string"},
            {"error", "string?"},
            {"operator", "string?"},
            {"max_tries", "integer"},
            {"rendered_fields", "object"},
        }},
        {"TaskTryCollection", "", {{"task_instances", "TaskTry[]"}, {"total_entries", "integer"}}},
        {"TaskInstanceReference", "", {
            {"task_id", "string"},
            {"dag_id", "string"},
            {"execution_date", "datetime"},
            {"dag_run_id", "string"},
        }},
        {"TaskInstanceReferenceCollection", "", {
            {"task_instances", "TaskInstanceReference[]"},
        }},
        {"ListTaskInstanceForm", "The filters of the batch task instance list", {
            {"dag_ids?", "string[]?"},
            {"dag_run_ids?", "string[]?"},
            {"task_ids?", "string[]?"},
            {"state?", "string[]?"},
            {"start_date_gte?", "datetime?"},
            {"start_date_lte?", "datetime?"},
            {"end_date_gte?", "datetime?"},
            {"end_date_lte?", "datetime?"},
            {"pool?", "string[]?"},
            {"queue?", "string[]?"},
            {"page_offset?", "integer?"},
            {"page_limit?", "integer?"},
        }},
        {"ClearTaskInstances", "", {
            {"dry_run?", "boolean?"},
            {"task_ids?", "string[]?"},
            {"start_date?", "datetime?"},
            {"end_date?", "datetime?"},
            {"only_failed?", "boolean?"},
            {"only_running?", "boolean?"},
            {"reset_dag_runs?", "boolean?"},
            {"dag_run_id?", "string?"},
            {"include_upstream?", "boolean?"},
            {"include_downstream?", "boolean?"},
            {"include_future?", "boolean?"},
            {"include_past?", "boolean?"},
            {"include_subdags?", "boolean?"},
            {"include_parentdag?", "boolean?"},
        }},
        {"UpdateTaskInstancesState", "", {
            {"dry_run?", "boolean?"},
            {"task_id", "string"},
            {"execution_date?", "datetime?"},
            {"dag_run_id?", "string?"},
            {"include_upstream?", "boolean?"},
            {"include_downstream?", "boolean?"},
            {"include_future?", "boolean?"},
            {"include_past?", "boolean?"},
            {"new_state", "string"},
        }},
        {"TaskLog", "A chunk of a try's log; continuation_token reads on from its end", {
            {"content", "string"},
            {"continuation_token", "string"},
        }},
        {"XComCollectionItem", "", kXcomItem},
        {"XComCollection", "", {
            {"xcom_entries", "XComCollectionItem[]"},
            {"total_entries", "integer"},
        }},
        {"XCom", "value is the JSON text of the output (stringify=false: the JSON value itself)",
         plus(kXcomItem, {{"value", "string"}})},
        // --- import errors, audit log
        {"ImportError", "", kImportError},
        {"ImportErrorCollection", "", {
            {"import_errors", "ImportError[]"},
            {"total_entries", "integer"},
        }},
        {"EventLog", "A record of the audit log", {
            {"event_log_id", "integer"},
            {"when", "datetime"},
            {"dag_id", "string?"},
            {"task_id", "string?"},
            {"run_id", "string?"},
            {"map_index", "integer?"},
            {"try_number", "integer?"},
            {"event", "string"},
            {"execution_date", "datetime?"},
            {"owner", "string"},
            {"extra", "string?"},
        }},
        {"EventLogCollection", "", {{"event_logs", "EventLog[]"}, {"total_entries", "integer"}}},
        // --- variables and connections
        {"Variable", "A variable; a secret one's value is \"***\"", {
            {"key", "string"},
            {"value", "string"},
            {"description", "string?"},
        }},
        {"VariableBody", "POST needs key and value; PATCH the fields to change", {
            {"key?", "string"},
            {"value?", "string"},
            {"description?", "string?"},
        }},
        {"VariableCollection", "", {{"variables", "Variable[]"}, {"total_entries", "integer"}}},
        // --- pools
        {"Pool", "A pool: its slots and the task instances' share of them", {
            {"name", "string"},
            {"slots", "integer"},
            {"occupied_slots", "integer"},
            {"running_slots", "integer"},
            {"queued_slots", "integer"},
            {"scheduled_slots", "integer"},
            {"open_slots", "integer"},
            {"deferred_slots", "integer"},
            {"description", "string?"},
            {"include_deferred", "boolean"},
        }},
        {"PoolBody", "POST needs name and slots (1..1000000); PATCH the fields to change", {
            {"name?", "string"},
            {"slots?", "integer"},
            {"description?", "string?"},
            {"include_deferred?", "boolean"},
        }},
        {"PoolCollection", "", {{"pools", "Pool[]"}, {"total_entries", "integer"}}},
        {"ConnectionCollectionItem", "", kConnectionItem},
        {"Connection", "A connection; the password is never answered, secrets in extra are "
                       "\"***\"", plus(kConnectionItem, {{"extra", "string?"}})},
        {"ConnectionBody", "POST needs connection_id and conn_type; PATCH the fields to change", {
            {"connection_id?", "string"},
            {"conn_type?", "string"},
            {"description?", "string?"},
            {"host?", "string?"},
            {"login?", "string?"},
            {"schema?", "string?"},
            {"port?", "integer?"},
            {"password?", "string?"},
            {"extra?", "string?"},
        }},
        {"ConnectionCollection", "", {
            {"connections", "ConnectionCollectionItem[]"},
            {"total_entries", "integer"},
        }},
        // --- users, roles, configuration
        {"User", "A user (exactly one role)", {
            {"first_name", "string"},
            {"last_name", "string"},
            {"username", "string"},
            {"email", "string"},
            {"active", "boolean"},
            {"last_login", "datetime?"},
            {"login_count", "integer?"},
            {"failed_login_count", "integer?"},
            {"roles", "UserRole[]"},
            {"created_on", "datetime?"},
            {"changed_on", "datetime?"},
        }},
        {"UserRole", "", {{"name", "string"}}},
        {"UserBody", "POST needs every field but the read-only ones; PATCH the fields to change "
                     "(the read-only ones are accepted and ignored)", {
            {"username?", "string"},
            {"email?", "string"},
            {"first_name?", "string"},
            {"last_name?", "string"},
            {"password?", "string"},
            {"roles?", "UserRole[]?"},
            {"active?", "boolean?"},
            {"last_login?", "datetime?"},
            {"login_count?", "integer?"},
            {"failed_login_count?", "integer?"},
            {"created_on?", "datetime?"},
            {"changed_on?", "datetime?"},
        }},
        {"UserCollection", "", {{"users", "User[]"}, {"total_entries", "integer"}}},
        {"Role", "", {{"name", "string"}, {"actions", "ActionResource[]"}}},
        {"ActionResource", "", {{"action", "Action"}, {"resource", "Resource"}}},
        {"Action", "", {{"name", "string"}}},
        {"Resource", "", {{"name", "string"}}},
        {"RoleCollection", "", {{"roles", "Role[]"}, {"total_entries", "integer"}}},
        {"Config", "The configuration, secrets hidden", {{"sections", "ConfigSection[]"}}},
        {"ConfigSection", "", {{"name", "string"}, {"options", "ConfigOption[]"}}},
        {"ConfigOption", "", {{"key", "string"}, {"value", "string"}}},
        // --- the console's (console.cpp)
        {"UiSession", "Who is logged in; csrf_token is null for Basic credentials", {
            {"username", "string"},
            {"role", "string"},
            {"csrf_token", "string?"},
        }},
        {"UiLogin", "", {{"username", "string"}, {"password", "string"}}},
        {"UiDags", "", {{"dags", "UiDag[]"}, {"import_errors", "UiImportError[]"}}},
        {"UiDag", "A DAG with its recent runs, run counts and services",
         plus(kDag, {{"recent_runs", "UiRunSummary[]"},
                     {"run_counts", "map<integer>"},
                     {"services", "UiDagService[]"}})},
        {"UiRunSummary", "", {
            {"dag_run_id", "string"},
            {"state", "DagState"},
            {"run_type", "string"},
            {"logical_date", "datetime?"},
            {"start_date", "datetime?"},
            {"end_date", "datetime?"},
        }},
        {"UiDagService", "", {{"name", "string"}, {"up", "integer"}, {"total", "integer"}}},
        {"UiImportError", "", plus(kImportError, {{"line", "integer?"}})},
        {"UiGrid", "", {{"dag_id", "string"}, {"tasks", "UiGridTask[]"}, {"runs", "UiGridRun[]"}}},
        {"UiGridTask", "", {
            {"task_id", "string"},
            {"kind", "string"},
            {"service", "string?"},
            {"method", "string?"},
            {"path", "string?"},
            {"trigger_rule", "string"},
            {"upstream_task_ids", "string[]"},
            {"downstream_task_ids", "string[]"},
        }},
        {"UiGridRun", "A DAGRun with its task instances by task id",
         plus(kDagRun, {{"task_instances", "map<UiGridCell>"}})},
        {"UiGridCell", "", {
            {"state", "TaskState?"},
            {"try_number", "integer"},
            {"start_date", "datetime?"},
            {"end_date", "datetime?"},
            {"duration", "number?"},
            {"queued_when", "datetime?"},
            {"served_by", "string"},
        }},
        {"UiServices", "", {{"registry", "UiRegistryStatus"}, {"apps", "UiService[]"}}},
        {"UiRegistryStatus", "", {
            {"self_preservation_enabled", "boolean"},
            {"self_preservation_active", "boolean"},
            {"renews_last_minute", "integer"},
            {"renews_threshold", "integer"},
            {"expected_renews_per_minute", "integer"},
            {"instances", "integer"},
            {"up", "integer"},
        }},
        {"UiService", "", {
            {"name", "string"},
            {"instances", "UiServiceInstance[]"},
            {"used_by", "UiServiceCaller[]"},
        }},
        {"UiServiceInstance", "", {
            {"breaker", "UiBreaker"},
            {"instance_id", "string"},
            {"app", "string"},
            {"host_name", "string"},
            {"ip_addr", "string"},
            {"port", "integer"},
            {"secure_port", "integer?"},
            {"status", "string"},
            {"overridden_status", "string"},
            {"zone", "string?"},
            {"metadata", "map<string>"},
            {"registered_at", "datetime?"},
            {"last_renewal", "datetime?"},
            {"lease_expires", "datetime?"},
            {"home_page_url", "string"},
            {"status_page_url", "string"},
            {"health_check_url", "string"},
        }},
        {"UiBreaker", "This process's circuit breaker for the instance", {
            {"state", "string"},
            {"consecutive_failures", "integer"},
            {"open_until?", "datetime?"},
            {"last_error?", "string"},
        }},
        {"UiServiceCaller", "", {
            {"dag_id", "string"},
            {"task_id", "string"},
            {"kind", "string"},
            {"last_runs", "UiRunState[]"},
        }},
        {"UiRunState", "", {{"dag_run_id", "string"}, {"state", "DagState"}}},
        {"UiInstanceStatusBody", "", {{"status", "string"}}},
        {"UiInstanceStatus", "", {
            {"app", "string"},
            {"instance_id", "string"},
            {"overridden_status", "string"},
        }},
        // --- service_health.cpp
        {"ServiceBreakers", "The instance choice's settings and, for '~', every service called "
                            "(services), else the one service's fields",
         {{"zone", "string"},
          {"breaker", "BreakerSettings"},
          {"retry_budget", "RetryBudgetSettings"},
          {"services?", "ServiceHealth[]"},
          {"service?", "string"},
          {"requests?", "integer"},
          {"failovers?", "integer"},
          {"failovers_denied?", "integer"},
          {"retry_budget_tokens?", "number"},
          {"instances?", "InstanceBreaker[]"}}},
        {"BreakerSettings", "", {
            {"failures_to_open", "integer"},
            {"open_ms", "integer"},
            {"max_open_ms", "integer"},
        }},
        {"RetryBudgetSettings", "", {
            {"ratio", "number"},
            {"min_per_second", "number"},
            {"burst", "number"},
        }},
        {"ServiceHealth", "", kServiceHealth},
        {"InstanceBreaker", "", {
            {"instance_id", "string"},
            {"state", "string"},
            {"consecutive_failures", "integer"},
            {"open_until", "datetime?"},
            {"back_off_ms", "integer"},
            {"calls", "integer"},
            {"failures", "integer"},
            {"opened", "integer"},
            {"last_failure", "datetime?"},
            {"last_error", "string"},
        }},
    };
    return kSchemas;
}

const std::vector<EnumSpec>& enum_table() {
    static const std::vector<EnumSpec> kEnums = {
        {"DagState", "A run's state", {"queued", "running", "success", "failed"}},
        {"TaskState", "A task instance's state (null: not yet considered)",
         {"scheduled", "queued", "running", "success", "failed", "up_for_retry",
          "upstream_failed", "skipped", "removed"}},
        {"HealthStatus", "", {"healthy", "unhealthy"}},
    };
    return kEnums;
}

// Each route's methods. A new route needs its rows here (openapi_schema_test names the ones
// missing); a new shape its SchemaSpec above.
const std::vector<OperationSchema>& operation_table() {
    static const std::vector<OperationSchema> kOperations = {
        {Endpoint::kHealth, V::get, "HealthInfo", ""},
        {Endpoint::kVersion, V::get, "VersionInfo", ""},
        {Endpoint::kOpenApi, V::get, "object", ""},
        {Endpoint::kConfig, V::get, "Config", ""},
        {Endpoint::kConfigOption, V::get, "Config", ""},
        {Endpoint::kDags, V::get, "DAGCollection", ""},
        {Endpoint::kDag, V::get, "DAG", ""},
        {Endpoint::kDag, V::patch, "DAG", "DAGPatch"},
        {Endpoint::kDagDetails, V::get, "DAGDetail", ""},
        {Endpoint::kTasks, V::get, "TaskCollection", ""},
        {Endpoint::kTask, V::get, "Task", ""},
        {Endpoint::kClearTaskInstances, V::post, "TaskInstanceReferenceCollection",
         "ClearTaskInstances"},
        {Endpoint::kUpdateTaskInstancesState, V::post, "TaskInstanceReferenceCollection",
         "UpdateTaskInstancesState"},
        {Endpoint::kDagRuns, V::get, "DAGRunCollection", ""},
        {Endpoint::kDagRuns, V::post, "DAGRun", "TriggerDAGRun"},
        {Endpoint::kListRuns, V::post, "DAGRunCollection", "ListDagRunsForm"},
        {Endpoint::kDagRun, V::get, "DAGRun", ""},
        {Endpoint::kDagRun, V::patch, "DAGRun", "UpdateDagRunState"},
        {Endpoint::kDagRun, V::delete_, "", ""},
        {Endpoint::kClearRun, V::post, "DAGRun|TaskInstanceCollection", "ClearDagRun"},
        {Endpoint::kTaskInstances, V::get, "TaskInstanceCollection", ""},
        {Endpoint::kListTaskInstances, V::post, "TaskInstanceCollection", "ListTaskInstanceForm"},
        {Endpoint::kTaskInstance, V::get, "TaskInstance", ""},
        {Endpoint::kTries, V::get, "TaskTryCollection", ""},
        {Endpoint::kMappedTaskInstances, V::get, "TaskInstanceCollection", ""},
        {Endpoint::kMappedTaskInstance, V::get, "TaskInstance", ""},
        {Endpoint::kMappedTries, V::get, "TaskTryCollection", ""},
        {Endpoint::kLog, V::get, "TaskLog", ""},
        {Endpoint::kXcoms, V::get, "XComCollection", ""},
        {Endpoint::kXcom, V::get, "XCom", ""},
        {Endpoint::kDagSource, V::get, "DagSource", ""},
        {Endpoint::kImportErrors, V::get, "ImportErrorCollection", ""},
        {Endpoint::kImportError, V::get, "ImportError", ""},
        {Endpoint::kVariables, V::get, "VariableCollection", ""},
        {Endpoint::kVariables, V::post, "Variable", "VariableBody"},
        {Endpoint::kVariable, V::get, "Variable", ""},
        {Endpoint::kVariable, V::patch, "Variable", "VariableBody"},
        {Endpoint::kVariable, V::delete_, "", ""},
        {Endpoint::kPools, V::get, "PoolCollection", ""},
        {Endpoint::kPools, V::post, "Pool", "PoolBody"},
        {Endpoint::kPool, V::get, "Pool", ""},
        {Endpoint::kPool, V::patch, "Pool", "PoolBody"},
        {Endpoint::kPool, V::delete_, "", ""},
        {Endpoint::kConnections, V::get, "ConnectionCollection", ""},
        {Endpoint::kConnections, V::post, "Connection", "ConnectionBody"},
        {Endpoint::kConnection, V::get, "Connection", ""},
        {Endpoint::kConnection, V::patch, "Connection", "ConnectionBody"},
        {Endpoint::kConnection, V::delete_, "", ""},
        {Endpoint::kEventLogs, V::get, "EventLogCollection", ""},
        {Endpoint::kEventLog, V::get, "EventLog", ""},
        {Endpoint::kUsers, V::get, "UserCollection", ""},
        {Endpoint::kUsers, V::post, "User", "UserBody"},
        {Endpoint::kUser, V::get, "User", ""},
        {Endpoint::kUser, V::patch, "User", "UserBody"},
        {Endpoint::kUser, V::delete_, "", ""},
        {Endpoint::kRoles, V::get, "RoleCollection", ""},
        {Endpoint::kRole, V::get, "Role", ""},
        {Endpoint::kUiSession, V::get, "UiSession", ""},
        {Endpoint::kUiSession, V::post, "UiSession", "UiLogin"},
        {Endpoint::kUiSession, V::delete_, "", ""},
        {Endpoint::kUiDags, V::get, "UiDags", ""},
        {Endpoint::kUiGrid, V::get, "UiGrid", ""},
        {Endpoint::kUiServices, V::get, "UiServices", ""},
        {Endpoint::kUiInstanceStatus, V::put, "UiInstanceStatus", "UiInstanceStatusBody"},
        {Endpoint::kUiInstanceStatus, V::delete_, "UiInstanceStatus", ""},
        {Endpoint::kServiceBreakers, V::get, "ServiceBreakers", ""},
    };
    return kOperations;
}

json::object nullable(json::object schema) {
    if (schema.contains("$ref") || schema.contains("oneOf")) {
        // OpenAPI 3.0 ignores siblings of $ref: wrap it.
        return json::object{{"allOf", json::array{std::move(schema)}}, {"nullable", true}};
    }
    schema["nullable"] = true;
    return schema;
}

}  // namespace

json::object schema_of(std::string_view type) {
    if (type.ends_with('?')) return nullable(schema_of(type.substr(0, type.size() - 1)));
    if (type.find('|') != std::string_view::npos) {
        json::array one_of;
        while (!type.empty()) {
            const auto bar = type.find('|');
            one_of.push_back(schema_of(type.substr(0, bar)));
            type = bar == std::string_view::npos ? std::string_view() : type.substr(bar + 1);
        }
        return json::object{{"oneOf", std::move(one_of)}};
    }
    if (type.ends_with("[]")) {
        return json::object{{"type", "array"},
                            {"items", schema_of(type.substr(0, type.size() - 2))}};
    }
    if (type.starts_with("map<") && type.ends_with('>')) {
        return json::object{{"type", "object"},
                            {"additionalProperties", schema_of(type.substr(4, type.size() - 5))}};
    }
    if (type == "datetime") return json::object{{"type", "string"}, {"format", "date-time"}};
    if (type == "any") return json::object{};
    if (type == "object") return json::object{{"type", "object"}, {"additionalProperties", true}};
    if (type == "string" || type == "integer" || type == "number" || type == "boolean") {
        return json::object{{"type", type}};
    }
    std::string ref = "#/components/schemas/";
    ref += type;
    return json::object{{"$ref", ref}};
}

std::span<const OperationSchema> operation_schemas() { return operation_table(); }

const OperationSchema* find_operation_schema(Endpoint endpoint, V method) {
    for (const OperationSchema& op : operation_table()) {
        if (op.endpoint == endpoint && op.method == method) return &op;
    }
    return nullptr;
}

json::object component_schemas() {
    json::object out;
    for (const SchemaSpec& spec : schema_table()) {
        json::object schema{{"type", "object"}};
        if (!spec.description.empty()) schema["description"] = spec.description;
        json::object properties;
        json::array required;
        for (const Property& p : spec.properties) {
            std::string_view name = p.name;
            if (name.ends_with('?')) {
                name.remove_suffix(1);
            } else {
                required.push_back(json::string(name));
            }
            properties[name] = schema_of(p.type);
        }
        schema["properties"] = std::move(properties);
        if (!required.empty()) schema["required"] = std::move(required);
        out[spec.name] = std::move(schema);
    }
    // A schedule is one of two shapes, told apart by __type.
    out["ScheduleInterval"] = json::object{
        {"description", "A DAG's schedule: a TimeDelta or a CronExpression (by __type)"},
        {"oneOf", json::array{schema_of("TimeDelta"), schema_of("CronExpression")}}};
    for (const EnumSpec& e : enum_table()) {
        json::object schema{{"type", "string"}};
        if (!e.description.empty()) schema["description"] = e.description;
        json::array values;
        for (auto v : e.values) values.push_back(json::string(v));
        schema["enum"] = std::move(values);
        out[e.name] = std::move(schema);
    }
    return out;
}

}  // namespace orquestra::api
