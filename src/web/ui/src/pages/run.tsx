import { ApiError, api, canEdit, get, p } from '../api';
import type { ComponentChildren } from 'preact';
import { Code, DryRunList, ErrorBox, Loading, PageHeader, StateMark, Time, Updated, announce, useConfirm } from '../components';
import { fmtDuration, pretty, secondsBetween } from '../format';
import { Gantt } from '../gantt';
import { useTitle } from '../hooks';
import { useLive } from '../live';
import { href } from '../router';
import { isActive, isFinishedRun, stateLook } from '../states';
import type { DagDetail, DagRun, Session, TaskInstance } from '../types';
import { NotFoundPage } from './not_found';
import { useEffect } from 'preact/hooks';

interface RunData {
  run: DagRun;
  tis: TaskInstance[];
}

export function RunPage(props: { session: Session; dagId: string; runId: string }) {
  const { dagId, runId } = props;
  useTitle(`${runId} · ${dagId}`);
  const live = useLive<RunData>(
    async (signal) => {
      const [run, tis] = await Promise.all([
        get<DagRun>(p`/dags/${dagId}/dagRuns/${runId}`, { signal }),
        get<{ task_instances: TaskInstance[] }>(p`/dags/${dagId}/dagRuns/${runId}/taskInstances` + '?limit=100', { signal }),
      ]);
      return { run, tis: tis.task_instances };
    },
    [dagId, runId],
    (d) => isActive(d.run.state) || d.tis.some((t) => isActive(t.state)),
  );
  const details = useLive((signal) => get<DagDetail>(p`/dags/${dagId}/details`, { signal }), [dagId]);
  const order = useLive(
    (signal) => get<{ tasks: { task_id: string }[] }>(p`/dags/${dagId}/tasks`, { signal }).then((t) => t.tasks.map((x) => x.task_id)),
    [dagId],
  );
  const confirm = useConfirm();

  const run = live.data?.run;
  useEffect(() => {
    if (run) announce(`Run ${run.dag_run_id} is ${stateLook(run.state).label}`);
  }, [run?.state]);

  if (live.error instanceof ApiError && live.error.status === 404 && !live.data) return <NotFoundPage />;

  const tis = live.data ? [...live.data.tis] : [];
  if (order.data) {
    const idx = new Map(order.data.map((t, i) => [t, i]));
    tis.sort((a, b) => (idx.get(a.task_id) ?? 1e9) - (idx.get(b.task_id) ?? 1e9) || a.task_id.localeCompare(b.task_id) || (a.map_index ?? -1) - (b.map_index ?? -1));
  }
  const editor = canEdit(props.session);
  const finished = run ? isFinishedRun(run.state) : false;

  const act = (title: string, body: string, confirmLabel: string, call: () => Promise<unknown>, danger = false, extra: ComponentChildren = null) =>
    confirm.ask({
      title,
      body: (
        <>
          <p>{body}</p>
          {extra}
          {!finished && <p class="alert alert-info">This run has not finished: the server will refuse until it has.</p>}
        </>
      ),
      confirm: confirmLabel,
      danger,
      run: async () => {
        try {
          await call();
        } finally {
          live.refresh();
        }
      },
    });

  const defaults: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details.data?.params ?? {})) defaults[k] = v.value ?? v.schema?.default;

  return (
    <>
      <PageHeader
        crumbs={[{ href: '/dags', label: 'DAGs' }, { href: href(['dags', dagId]), label: dagId }]}
        title={
          <span class="title-with-state">
            {run && <StateMark state={run.state} size="md" />}
            <span>Run {runId}</span>
          </span>
        }
        actions={
          <>
            <Updated at={live.updatedAt} error={live.error} />
            {editor && run && (
              <span class="btn-row">
                <button
                  type="button"
                  class="btn"
                  onClick={() =>
                    act(
                      `Clear run ${runId}?`,
                      'Every task instance of this run goes back to no state, and the run is queued again so the scheduler runs them anew.',
                      'Clear run',
                      () => api('POST', p`/dags/${dagId}/dagRuns/${runId}/clear`, { dry_run: false }),
                      false,
                      finished ? (
                        <DryRunList
                          verb="cleared"
                          load={() => api<{ task_instances: TaskInstance[] }>('POST', p`/dags/${dagId}/dagRuns/${runId}/clear`, { dry_run: true }).then((r) => r.task_instances)}
                        />
                      ) : null,
                    )
                  }
                >
                  ⟲ Clear
                </button>
                <button type="button" class="btn" onClick={() => act(`Mark run ${runId} as success?`, 'Every task instance that did not succeed is marked success, and so is the run.', 'Mark success', () => api('PATCH', p`/dags/${dagId}/dagRuns/${runId}`, { state: 'success' }))}>
                  ✓ Mark success
                </button>
                <button type="button" class="btn btn-danger" onClick={() => act(`Mark run ${runId} as failed?`, 'The run is marked failed; an unfinished task instance, if any, becomes skipped.', 'Mark failed', () => api('PATCH', p`/dags/${dagId}/dagRuns/${runId}`, { state: 'failed' }), true)}>
                  ✕ Mark failed
                </button>
              </span>
            )}
          </>
        }
      />
      {confirm.dialog}
      {!live.data && live.error ? <ErrorBox error={live.error} /> : null}
      {!live.data && !live.error && <Loading what="the run" />}
      {run && (
        <div class="details-grid">
          <section class="card">
            <h2>Run</h2>
            <dl class="kv">
              <dt>State</dt><dd><StateMark state={run.state} text /></dd>
              <dt>Run id</dt><dd><code>{run.dag_run_id}</code></dd>
              <dt>Run type</dt><dd>{run.run_type}</dd>
              <dt>Triggered</dt><dd>{run.external_trigger ? 'externally (API or console)' : 'by the scheduler'}</dd>
              <dt>Logical date</dt><dd><Time iso={run.logical_date} /></dd>
              <dt>Data interval</dt><dd><Time iso={run.data_interval_start ?? null} /> → <Time iso={run.data_interval_end ?? null} /></dd>
              <dt>Started</dt><dd><Time iso={run.start_date} /></dd>
              <dt>Ended</dt><dd><Time iso={run.end_date} /></dd>
              <dt>Duration</dt><dd>{fmtDuration(secondsBetween(run.start_date, run.end_date))}</dd>
              <dt>Note</dt><dd>{run.note ? <span class="note">{run.note}</span> : <span class="muted">—</span>}</dd>
            </dl>
            <p><a href={href(['dags', dagId], { tab: 'graph', run: run.dag_run_id })}>See it in the graph</a> · <a href={href(['dags', dagId], { tab: 'grid', run: run.dag_run_id })}>in the grid</a></p>
          </section>
          <section class="card">
            <h2>Conf</h2>
            {run.conf && Object.keys(run.conf).length > 0 ? (
              <>
                <table class="table compact">
                  <thead><tr><th scope="col">Key</th><th scope="col">Value</th><th scope="col">Default</th></tr></thead>
                  <tbody>
                    {Object.entries(run.conf).map(([k, v]) => {
                      const changed = k in defaults && JSON.stringify(defaults[k]) !== JSON.stringify(v);
                      return (
                        <tr key={k} class={changed ? 'changed' : ''}>
                          <td><code>{k}</code></td>
                          <td><code>{pretty(v)}</code>{changed && <span class="badge">changed</span>}</td>
                          <td class="muted"><code>{k in defaults ? pretty(defaults[k]) : '—'}</code></td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
                <details>
                  <summary>As JSON</summary>
                  <Code text={pretty(run.conf)} />
                </details>
              </>
            ) : <p class="muted">Empty: the params' defaults apply.</p>}
          </section>
          <section class="card wide">
            <h2>Task instances</h2>
            <div class="table-wrap">
              <table class="table">
                <thead>
                  <tr>
                    <th scope="col">Task</th><th scope="col">State</th><th scope="col">Try</th><th scope="col">Started</th>
                    <th scope="col">Ended</th><th scope="col">Duration</th><th scope="col">Served by</th><th scope="col">Kind</th>
                  </tr>
                </thead>
                <tbody>
                  {tis.map((t) => (
                    <tr key={`${t.task_id}[${t.map_index ?? -1}]`} data-task={t.task_id}>
                      <td><a href={href(['dags', dagId, 'runs', runId, 'tasks', t.task_id], t.try_number ? { try: t.try_number } : undefined)}>{mappedName(t)}</a></td>
                      <td><StateMark state={t.state} text /></td>
                      <td>{t.try_number || '—'}</td>
                      <td><Time iso={t.start_date} /></td>
                      <td><Time iso={t.end_date} /></td>
                      <td>{fmtDuration(t.duration ?? secondsBetween(t.start_date, t.end_date))}</td>
                      <td>{t.served_by ? <code>{t.served_by}</code> : <span class="muted">—</span>}</td>
                      <td class="small">{t.operator ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
          <section class="card wide">
            <h2>Durations</h2>
            <Gantt
              caption={`Gantt chart of run ${runId}`}
              rows={tis.map((t) => ({
                task_id: t.task_id,
                href: href(['dags', dagId, 'runs', runId, 'tasks', t.task_id], t.try_number ? { try: t.try_number } : undefined),
                state: t.state,
                queued_when: t.queued_when,
                start_date: t.start_date,
                end_date: t.end_date,
              }))}
            />
          </section>
        </div>
      )}
    </>
  );
}

// A mapped task's instances show as task_id[map_index].
function mappedName(t: TaskInstance): string {
  return t.map_index !== undefined && t.map_index >= 0 ? `${t.task_id}[${t.map_index}]` : t.task_id;
}
