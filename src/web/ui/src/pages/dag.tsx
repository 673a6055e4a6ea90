import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, canEdit, get, p } from '../api';
import { Code, ErrorBox, Loading, PageHeader, ServiceHealthMark, StateMark, Switch, Time, Updated, announce } from '../components';
import { fmtDuration, fmtSchedule, pretty, secondsBetween } from '../format';
import { Gantt } from '../gantt';
import { GraphView, kindLine } from '../graph';
import { GridView } from '../grid';
import { useTitle } from '../hooks';
import { useLive } from '../live';
import { href, navigate } from '../router';
import { isActive, stateLook } from '../states';
import type { DagDetail, Grid, GridRun, ServiceHealth, Session, UiServices } from '../types';
import { NotFoundPage } from './not_found';

const RUN_COUNTS = [5, 10, 25, 50, 100];
const TABS = ['grid', 'graph', 'gantt', 'runs', 'code', 'details'] as const;
type Tab = (typeof TABS)[number];
const TAB_NAMES: Record<Tab, string> = { grid: 'Grid', graph: 'Graph', gantt: 'Gantt', runs: 'Runs', code: 'Code', details: 'Details' };

export function serviceHealthMap(s: UiServices): Record<string, ServiceHealth> {
  const out: Record<string, ServiceHealth> = {};
  for (const a of s.apps) {
    out[a.name] = { name: a.name, up: a.instances.filter((i) => i.status === 'UP').length, total: a.instances.length };
  }
  return out;
}

export function DagPage(props: { session: Session; dagId: string; query: URLSearchParams }) {
  const { dagId } = props;
  useTitle(dagId);
  const tab: Tab = (TABS as readonly string[]).includes(props.query.get('tab') ?? '') ? (props.query.get('tab') as Tab) : 'grid';
  const runParam = props.query.get('run');
  const runsParam = Number(props.query.get('runs'));
  const runCount = RUN_COUNTS.includes(runsParam) ? runsParam : 25;
  const [actionError, setActionError] = useState<unknown>(null);
  const needServices = tab === 'graph' || tab === 'details';

  const details = useLive((signal) => get<DagDetail>(p`/dags/${dagId}/details`, { signal }), [dagId]);
  const live = useLive<Grid>(
    (signal) => get<Grid>(p`/ui/dags/${dagId}/grid` + `?runs=${runCount}`, { signal }),
    [dagId, runCount],
    (g) => g.runs.some((r) => isActive(r.state) || Object.values(r.task_instances ?? {}).some((t) => isActive(t.state))),
  );
  // Service health for the graph's nodes and the details: only while those tabs show.
  const services = useLive<Record<string, ServiceHealth> | null>(
    async (signal) => (needServices ? serviceHealthMap(await get<UiServices>('/ui/services', { signal })) : null),
    [dagId, needServices],
    tab === 'graph',
  );

  const grid = live.data;
  const selected: GridRun | null = grid ? grid.runs.find((r) => r.dag_run_id === runParam) ?? grid.runs[0] ?? null : null;
  const selectedId = selected?.dag_run_id ?? null;

  useEffect(() => {
    if (selected) announce(`Run ${selected.dag_run_id} is ${stateLook(selected.state).label}`);
  }, [selected?.dag_run_id, selected?.state]);

  const keep = { runs: runCount === 25 ? null : runCount };
  const tabHref = (t: Tab, run?: string | null) => href(['dags', dagId], { tab: t, run: run ?? runParam, ...keep });
  const selectRun = (id: string) => navigate(href(['dags', dagId], { tab, run: id, ...keep }), true);

  const notFound = details.error instanceof ApiError && details.error.status === 404;
  if (notFound) return <NotFoundPage />;

  const dag = details.data;
  const editor = canEdit(props.session);
  const setPaused = async (paused: boolean) => {
    setActionError(null);
    try {
      await api('PATCH', p`/dags/${dagId}` + '?update_mask=is_paused', { is_paused: paused });
      announce(`${dagId} ${paused ? 'paused' : 'unpaused'}`);
    } catch (e) {
      setActionError(e);
    }
    details.refresh();
  };

  return (
    <>
      <PageHeader
        crumbs={[{ href: '/dags', label: 'DAGs' }]}
        title={
          <span class="title-with-switch">
            {dag && editor && (
              <Switch checked={!dag.is_paused} label={dag.is_paused ? `${dagId} is paused: unpause` : `${dagId} is active: pause`} onChange={(on) => setPaused(!on)} />
            )}
            <span class="dag-title">{dagId}</span>
            {dag?.is_paused && <span class="badge">paused</span>}
          </span>
        }
        sub={
          dag && (
            <>
              {dag.description && <p class="dag-desc">{dag.description}</p>}
              <dl class="kv-inline">
                <div><dt>Schedule</dt><dd><code>{fmtSchedule(dag.schedule_interval)}</code></dd></div>
                <div><dt>Next run</dt><dd><Time iso={dag.next_dagrun} /></dd></div>
                <div><dt>Owner</dt><dd>{dag.owners.join(', ') || '—'}</dd></div>
                {(dag.tags ?? []).length > 0 && (
                  <div><dt>Tags</dt><dd><span class="tags">{(dag.tags ?? []).map((t) => <a key={t.name} class="tag" href={`/dags?q=${encodeURIComponent(t.name)}`}>{t.name}</a>)}</span></dd></div>
                )}
              </dl>
            </>
          )
        }
        actions={
          <>
            <Updated at={live.updatedAt} error={live.error} />
            {editor && (
              <a class="btn btn-primary trigger-btn" href={href(['dags', dagId, 'trigger'])}>▶ Trigger</a>
            )}
          </>
        }
      />
      <ErrorBox error={actionError} title="Could not change the DAG:" />
      <ErrorBox error={details.error && !notFound ? details.error : null} />

      <nav class="tabs" aria-label="DAG views">
        {TABS.map((t) => (
          <a key={t} href={tabHref(t)} aria-current={t === tab ? 'page' : undefined} class={t === tab ? 'on' : ''}>
            {TAB_NAMES[t]}
          </a>
        ))}
      </nav>

      {(tab === 'graph' || tab === 'gantt') && grid && grid.runs.length > 0 && (
        <RunPicker dagId={dagId} runs={grid.runs} selected={selected} onSelect={selectRun} />
      )}

      <section class="tab-panel" aria-label={TAB_NAMES[tab]}>
        {!grid && live.error ? <ErrorBox error={live.error} /> : null}
        {!grid && !live.error && (tab !== 'code' && tab !== 'details') && <Loading />}
        {grid && tab === 'grid' && (
          <>
            <div class="grid-controls">
              <label for="grid-runs">Runs shown</label>
              <select
                id="grid-runs"
                value={String(runCount)}
                onChange={(e) => navigate(href(['dags', dagId], { tab, run: runParam, runs: Number((e.currentTarget as HTMLSelectElement).value) }), true)}
              >
                {RUN_COUNTS.map((n) => <option key={n} value={String(n)}>{n}</option>)}
              </select>
            </div>
            <GridView grid={grid} selectedRun={selectedId} onSelectRun={selectRun} />
            {selected && <SelectedRunSummary dagId={dagId} run={selected} />}
            <Legend />
          </>
        )}
        {grid && tab === 'graph' && (
          <>
            <GraphView dagId={dagId} tasks={grid.tasks} run={selected} services={services.data ?? null} />
            <Legend />
          </>
        )}
        {grid && tab === 'gantt' && (
          selected ? (
            <Gantt
              caption={`Gantt chart of run ${selected.dag_run_id}`}
              rows={grid.tasks.map((t) => {
                const ti = selected.task_instances?.[t.task_id];
                return {
                  task_id: t.task_id,
                  href: href(['dags', dagId, 'runs', selected.dag_run_id, 'tasks', t.task_id], ti?.try_number ? { try: ti.try_number } : undefined),
                  state: ti?.state ?? null,
                  queued_when: ti?.queued_when ?? null,
                  start_date: ti?.start_date ?? null,
                  end_date: ti?.end_date ?? null,
                };
              })}
            />
          ) : <p class="empty">No run yet.</p>
        )}
        {grid && tab === 'runs' && <RunsTable dagId={dagId} runs={grid.runs} />}
        {tab === 'code' && dag && <CodeTab dag={dag} grid={grid ?? null} />}
        {tab === 'details' && (dag ? <DetailsTab dag={dag} grid={grid ?? null} services={services.data ?? null} /> : <Loading />)}
      </section>
    </>
  );
}

function RunPicker(props: { dagId: string; runs: GridRun[]; selected: GridRun | null; onSelect: (id: string) => void }) {
  return (
    <div class="run-picker">
      <label for="run-select">Run</label>
      <select id="run-select" value={props.selected?.dag_run_id ?? ''} onChange={(e) => props.onSelect((e.currentTarget as HTMLSelectElement).value)}>
        {props.runs.map((r) => (
          <option key={r.dag_run_id} value={r.dag_run_id}>
            {stateLook(r.state).glyph} {r.dag_run_id} ({stateLook(r.state).label})
          </option>
        ))}
      </select>
      {props.selected && (
        <>
          <StateMark state={props.selected.state} text />
          <a href={href(['dags', props.dagId, 'runs', props.selected.dag_run_id])}>Run details</a>
        </>
      )}
    </div>
  );
}

function SelectedRunSummary(props: { dagId: string; run: GridRun }) {
  const r = props.run;
  return (
    <div class="run-summary" aria-label="Selected run">
      <StateMark state={r.state} text />
      <a class="run-summary-id" href={href(['dags', props.dagId, 'runs', r.dag_run_id])}>{r.dag_run_id}</a>
      <span class="muted small">{r.run_type}{r.external_trigger ? ', triggered externally' : ''}</span>
      <span class="small">started <Time iso={r.start_date} /></span>
      <span class="small">duration {fmtDuration(secondsBetween(r.start_date, r.end_date))}</span>
      {r.conf && Object.keys(r.conf).length > 0 && <code class="small conf-inline">{JSON.stringify(r.conf)}</code>}
    </div>
  );
}

export function Legend() {
  return (
    <ul class="legend" aria-label="State legend">
      {['success', 'running', 'failed', 'upstream_failed', 'up_for_retry', 'queued', 'scheduled', 'skipped', 'removed', 'none'].map((s) => (
        <li key={s}><StateMark state={s === 'none' ? null : s} /> {stateLook(s === 'none' ? null : s).label}</li>
      ))}
    </ul>
  );
}

function RunsTable(props: { dagId: string; runs: GridRun[] }) {
  if (props.runs.length === 0) return <p class="empty">No run yet.</p>;
  return (
    <div class="table-wrap">
      <table class="table">
        <caption class="sr-only">Latest runs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">State</th>
            <th scope="col">Run id</th>
            <th scope="col">Type</th>
            <th scope="col">Logical date</th>
            <th scope="col">Started</th>
            <th scope="col">Ended</th>
            <th scope="col">Duration</th>
            <th scope="col">Conf</th>
          </tr>
        </thead>
        <tbody>
          {props.runs.map((r) => (
            <tr key={r.dag_run_id}>
              <td><StateMark state={r.state} text /></td>
              <td><a href={href(['dags', props.dagId, 'runs', r.dag_run_id])}>{r.dag_run_id}</a></td>
              <td>{r.run_type}{r.external_trigger ? ' (external)' : ''}</td>
              <td><Time iso={r.logical_date} /></td>
              <td><Time iso={r.start_date} /></td>
              <td><Time iso={r.end_date} /></td>
              <td>{fmtDuration(secondsBetween(r.start_date, r.end_date))}</td>
              <td><code class="conf-inline">{r.conf && Object.keys(r.conf).length ? JSON.stringify(r.conf) : '—'}</code></td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="small muted">The latest {props.runs.length} runs.</p>
    </div>
  );
}

/** The DAG as the server loaded it, written out in the shape of its file (not the file itself). */
function outline(dag: DagDetail, grid: Grid | null): string {
  const lines = [`dag_id: ${dag.dag_id}`];
  if (dag.description) lines.push(`description: ${JSON.stringify(dag.description)}`);
  lines.push(`schedule: ${fmtSchedule(dag.schedule_interval)}`);
  if (dag.start_date) lines.push(`start_date: ${dag.start_date}`);
  if ((dag.tags ?? []).length) lines.push(`tags: [${(dag.tags ?? []).map((t) => t.name).join(', ')}]`);
  const params = Object.entries(dag.params ?? {});
  if (params.length) {
    lines.push('params:');
    for (const [name, spec] of params) lines.push(`  ${name}: ${JSON.stringify({ ...(spec.schema ?? {}), default: spec.value ?? null })}`);
  }
  if (grid) {
    lines.push('tasks:');
    for (const t of grid.tasks) {
      lines.push(`  ${t.task_id}:`);
      if (t.upstream_task_ids.length) lines.push(`    upstream: [${t.upstream_task_ids.join(', ')}]`);
      if (t.trigger_rule && t.trigger_rule !== 'all_success') lines.push(`    trigger_rule: ${t.trigger_rule}`);
      if (t.kind === 'http') lines.push(`    http: {service: ${t.service}, method: ${t.method}, path: ${JSON.stringify(t.path)}}`);
      else if (t.kind === 'wait_for_service') lines.push(`    wait_for_service: {service: ${t.service}}`);
      else lines.push(`    ${t.kind}: …`);
    }
  }
  return lines.join('\n');
}

function CodeTab(props: { dag: DagDetail; grid: Grid | null }) {
  const [source, setSource] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let alive = true;
    setSource(null);
    setError(null);
    if (!props.dag.file_token) {
      setError(new Error('The server gave no file token for this DAG.'));
      return;
    }
    get<string | { content: string }>(p`/dagSources/${props.dag.file_token}`, { accept: 'text/plain' })
      .then((s) => alive && setSource(typeof s === 'string' ? s : s.content))
      .catch((e) => alive && setError(e));
    return () => {
      alive = false;
    };
  }, [props.dag.file_token]);
  return (
    <div>
      <p class="small muted">File <code>{props.dag.fileloc}</code></p>
      {source !== null ? (
        <Code text={source} class="source" aria-label={`Source of ${props.dag.fileloc}`} />
      ) : error ? (
        <>
          <p class="muted">
            This server does not serve DAG files{error instanceof ApiError && error.status !== 404 ? ` (${error.detail || error.title})` : ''}.
            Here is the DAG as it loaded it, in the shape of its file (commands are not shown):
          </p>
          <Code text={outline(props.dag, props.grid)} class="source" aria-label={`Outline of ${props.dag.dag_id}`} />
        </>
      ) : (
        <Loading what="source" />
      )}
    </div>
  );
}

function DetailsTab(props: { dag: DagDetail; grid: Grid | null; services: Record<string, ServiceHealth> | null }) {
  const d = props.dag;
  const runs = props.grid?.runs ?? [];
  const durations = runs.map((r) => (r.end_date ? secondsBetween(r.start_date, r.end_date) : null)).filter((x): x is number => x !== null);
  const byState: Record<string, number> = {};
  for (const r of runs) byState[r.state] = (byState[r.state] ?? 0) + 1;
  const services = [...new Set((props.grid?.tasks ?? []).map((t) => t.service).filter((s): s is string => !!s))];
  return (
    <div class="details-grid">
      <section class="card">
        <h2>DAG</h2>
        <dl class="kv">
          <dt>DAG id</dt><dd>{d.dag_id}</dd>
          <dt>Description</dt><dd>{d.description || '—'}</dd>
          <dt>Owner</dt><dd>{d.owners.join(', ') || '—'}</dd>
          <dt>Schedule</dt><dd><code>{fmtSchedule(d.schedule_interval)}</code></dd>
          <dt>Start date</dt><dd><Time iso={d.start_date ?? null} /></dd>
          <dt>Catch up</dt><dd>{d.catchup ? 'yes' : 'no'}</dd>
          <dt>Time zone</dt><dd>{d.timezone ?? '—'}</dd>
          <dt>Max active runs</dt><dd>{d.max_active_runs ?? '—'}</dd>
          <dt>Max active tasks</dt><dd>{d.max_active_tasks ?? '—'}</dd>
          <dt>Run timeout</dt><dd>{d.dag_run_timeout ? fmtDuration(d.dag_run_timeout.days * 86400 + d.dag_run_timeout.seconds) : '—'}</dd>
          <dt>File</dt><dd><code>{d.fileloc}</code></dd>
          <dt>Paused</dt><dd>{d.is_paused ? 'yes' : 'no'}</dd>
        </dl>
      </section>
      <section class="card">
        <h2>Runs shown ({runs.length})</h2>
        <dl class="kv">
          {Object.entries(byState).map(([s, n]) => (
            <Fragment key={s}>
              <dt><StateMark state={s} /> {stateLook(s).label}</dt>
              <dd>{n}</dd>
            </Fragment>
          ))}
          <dt>Shortest</dt><dd>{durations.length ? fmtDuration(Math.min(...durations)) : '—'}</dd>
          <dt>Longest</dt><dd>{durations.length ? fmtDuration(Math.max(...durations)) : '—'}</dd>
          <dt>Mean</dt><dd>{durations.length ? fmtDuration(durations.reduce((a, b) => a + b, 0) / durations.length) : '—'}</dd>
        </dl>
        <h2>Services called</h2>
        {services.length === 0 ? <p class="muted">None.</p> : (
          <ul class="plain-list">
            {services.map((s) => {
              const h = props.services?.[s];
              return <li key={s}>{h ? <ServiceHealthMark {...h} /> : <a href={href(['services', s])}>{s}</a>}</li>;
            })}
          </ul>
        )}
      </section>
      <section class="card wide">
        <h2>Params</h2>
        {d.params && Object.keys(d.params).length > 0 ? (
          <div class="table-wrap">
            <table class="table">
              <thead><tr><th scope="col">Name</th><th scope="col">Default</th><th scope="col">Schema</th><th scope="col">Description</th></tr></thead>
              <tbody>
                {Object.entries(d.params).map(([name, spec]) => (
                  <tr key={name}>
                    <td><code>{name}</code></td>
                    <td><code>{pretty(spec.value ?? spec.schema?.default ?? null)}</code></td>
                    <td><code class="conf-inline">{JSON.stringify(spec.schema ?? {})}</code></td>
                    <td>{spec.description ?? spec.schema?.description ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : <p class="muted">This DAG takes no params.</p>}
      </section>
      {props.grid && (
        <section class="card wide">
          <h2>Tasks</h2>
          <div class="table-wrap">
            <table class="table">
              <thead><tr><th scope="col">Task</th><th scope="col">Kind</th><th scope="col">Service</th><th scope="col">Upstream</th><th scope="col">Trigger rule</th></tr></thead>
              <tbody>
                {props.grid.tasks.map((t) => (
                  <tr key={t.task_id}>
                    <td><code>{t.task_id}</code></td>
                    <td>{kindLine(t)}</td>
                    <td>{t.service ? <a href={href(['services', t.service])}>{t.service}</a> : '—'}</td>
                    <td>{t.upstream_task_ids.join(', ') || '—'}</td>
                    <td>{t.trigger_rule}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {d.doc_md && (
        <section class="card wide">
          <h2>Documentation</h2>
          <Code text={d.doc_md} class="doc" />
        </section>
      )}
    </div>
  );
}
