// The JSON shapes the console reads: the Airflow-compatible API (/api/v1) and the console's own
// aggregates (/api/v1/ui/...). Only the fields the console uses are listed.

export type Role = 'Admin' | 'Op' | 'User' | 'Viewer' | 'Public' | string;

export interface Session {
  username: string;
  role: Role;
  csrf_token: string;
}

export interface TimeDelta {
  __type: 'TimeDelta';
  days: number;
  seconds: number;
  microseconds: number;
}
export interface CronExpression {
  __type: 'CronExpression';
  value: string;
}
export type Schedule = TimeDelta | CronExpression | { __type: string; value?: string } | null;

export interface Dag {
  dag_id: string;
  description: string | null;
  is_paused: boolean;
  is_active: boolean;
  fileloc: string;
  file_token?: string;
  owners: string[];
  schedule_interval: Schedule;
  tags: { name: string }[] | null;
  has_import_errors: boolean;
  next_dagrun: string | null;
  max_active_runs?: number;
  max_active_tasks?: number;
}

export interface RecentRun {
  dag_run_id: string;
  state: string;
  run_type: string;
  logical_date: string | null;
  start_date: string | null;
  end_date: string | null;
}

export interface ServiceHealth {
  name: string;
  up: number;
  total: number;
}

export interface UiDag extends Dag {
  recent_runs: RecentRun[];
  run_counts: Record<string, number>;
  services: ServiceHealth[];
}

export interface ImportError {
  import_error_id: number;
  filename: string;
  line?: number | null;
  stack_trace: string;
  timestamp: string;
}

export interface UiDags {
  dags: UiDag[];
  import_errors: ImportError[];
}

export interface ParamSpec {
  value?: unknown;
  description?: string | null;
  schema?: JsonSchema;
}

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  items?: JsonSchema;
  [key: string]: unknown;
}

export interface DagDetail extends Dag {
  catchup?: boolean;
  start_date?: string | null;
  params?: Record<string, ParamSpec> | null;
  timezone?: string;
  doc_md?: string | null;
  dag_run_timeout?: TimeDelta | null;
  last_parsed_time?: string | null;
}

export interface DagRun {
  dag_run_id: string;
  dag_id: string;
  logical_date: string | null;
  execution_date?: string | null;
  start_date: string | null;
  end_date: string | null;
  data_interval_start?: string | null;
  data_interval_end?: string | null;
  state: string;
  run_type: string;
  external_trigger: boolean;
  conf: Record<string, unknown> | null;
  note: string | null;
  last_scheduling_decision?: string | null;
}

export interface GridTi {
  state: string | null;
  try_number: number;
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
  queued_when: string | null;
  served_by: string;
}

export interface GridRun extends DagRun {
  task_instances: Record<string, GridTi>;
}

export interface GridTask {
  task_id: string;
  kind: 'http' | 'command' | 'wait_for_service' | string;
  service: string | null;
  method: string | null;
  path: string | null;
  trigger_rule: string;
  downstream_task_ids: string[];
  upstream_task_ids: string[];
}

export interface Grid {
  dag_id: string;
  tasks: GridTask[];
  runs: GridRun[];
}

export type RenderedFields =
  | {
      kind: 'http';
      method: string;
      service: string;
      url: string | null;
      path: string;
      headers: Record<string, string>;
      content_type?: string | null;
      body: unknown;
      expected_status?: number | number[] | string | null;
      timeout_ms?: number | null;
    }
  | {
      kind: 'command';
      argv?: string[] | null;
      script?: string | null;
      env: Record<string, string>;
      cwd?: string | null;
      timeout_ms?: number | null;
    }
  | { kind: 'wait_for_service'; service: string; min_instances?: number; timeout_ms?: number | null }
  | { kind?: undefined };

export interface TaskInstance {
  task_id: string;
  dag_id: string;
  dag_run_id: string;
  map_index?: number; // -1: not mapped
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
  state: string | null;
  try_number: number;
  max_tries: number;
  hostname: string;
  operator: string | null;
  queued_when: string | null;
  note?: string | null;
  served_by?: string;
  rendered_fields?: RenderedFields;
}

export interface TaskTry {
  try_number: number;
  state: string | null;
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
  hostname: string;
  served_by: string;
  error: string | null;
  rendered_fields?: RenderedFields;
}

export interface Instance {
  instance_id: string;
  app: string;
  host_name: string;
  ip_addr: string;
  port: number;
  status: string;
  overridden_status: string;
  zone: string | null;
  metadata: Record<string, string>;
  last_renewal: string | null;
  lease_expires: string | null;
  registered_at: string | null;
  home_page_url: string;
  status_page_url: string;
  health_check_url: string;
  // This process's circuit breaker for the instance (http tasks skip it while open).
  breaker?: { state: 'closed' | 'open' | 'half_open'; consecutive_failures: number; open_until?: string | null; last_error?: string };
}

export interface UsedBy {
  dag_id: string;
  task_id: string;
  kind: string;
  last_runs: { dag_run_id: string; state: string }[];
}

export interface App {
  name: string;
  instances: Instance[];
  used_by: UsedBy[];
}

export interface RegistryStatus {
  self_preservation_enabled: boolean;
  self_preservation_active: boolean;
  renews_last_minute: number;
  renews_threshold: number;
  expected_renews_per_minute: number;
  instances: number;
  up: number;
}

export interface UiServices {
  registry: RegistryStatus;
  apps: App[];
}

export interface Health {
  metadatabase?: { status: string };
  scheduler?: { status: string; latest_scheduler_heartbeat?: string | null };
  [component: string]: { status?: string; [k: string]: unknown } | undefined;
}
