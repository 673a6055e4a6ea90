import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, canEdit, get, p } from '../api';
import { Code, DryRunList, ErrorBox, Loading, PageHeader, StateMark, StatusMark, Time, Updated, announce, useConfirm } from '../components';
import { fmtDuration, pretty, secondsBetween } from '../format';
import { useTitle } from '../hooks';
import { useLive } from '../live';
import { LogView } from '../log_view';
import { href, navigate } from '../router';
import { isActive, stateKey, stateLook } from '../states';
import type { RenderedFields, Session, TaskInstance, TaskTry, UiServices } from '../types';
import { NotFoundPage } from './not_found';

interface TaskData {
  ti: TaskInstance;
  tries: TaskTry[];
  runState: string;
}

export function TaskPage(props: { session: Session; dagId: string; runId: string; taskId: string; query: URLSearchParams }) {
  const { dagId, runId, taskId } = props;
  useTitle(`${taskId} · ${runId}`);
  const base = p`/dags/${dagId}/dagRuns/${runId}/taskInstances/${taskId}`;
  const live = useLive<TaskData>(
    async (signal) => {
      const [ti, tries, run] = await Promise.all([
        get<TaskInstance>(base, { signal }),
        get<{ task_instances: TaskTry[] }>(base + '/tries', { signal }).then((t) => t.task_instances).catch((e) => {
          if (e instanceof ApiError && e.status === 404) return [] as TaskTry[];
          throw e;
        }),
        get<{ state: string }>(p`/dags/${dagId}/dagRuns/${runId}`, { signal }),
      ]);
      return { ti, tries, runState: run.state };
    },
    [dagId, runId, taskId],
    (d) => isActive(d.ti.state) || isActive(d.runState),
  );
  const ti = live.data?.ti;
  const xcom = useLive(
    (signal) =>
      get<{ value: unknown }>(base + '/xcomEntries/return_value?stringify=false', { signal })
        .then((x) => ({ found: true, value: x.value }))
        .catch((e) => {
          if (e instanceof ApiError && e.status === 404) return { found: false, value: null };
          throw e;
        }),
    [dagId, runId, taskId, ti?.state, ti?.try_number],
  );
  const confirm = useConfirm();
  const services = useLive((signal) => get<UiServices>('/ui/services', { signal }).catch(() => undefined), []);

  useEffect(() => {
    if (ti) announce(`${taskId} is ${stateLook(ti.state).label}`);
  }, [ti?.state]);

  if (live.error instanceof ApiError && live.error.status === 404 && !live.data) return <NotFoundPage />;

  const tries: TaskTry[] = live.data?.tries.length
    ? [...live.data.tries].sort((a, b) => a.try_number - b.try_number)
    : ti && ti.try_number > 0
      ? [{ try_number: ti.try_number, state: ti.state, start_date: ti.start_date, end_date: ti.end_date, duration: ti.duration, hostname: ti.hostname, served_by: ti.served_by ?? '', error: null }]
      : [];
  const latest = ti?.try_number ?? 0;
  const asked = Number(props.query.get('try'));
  const tryNumber = Number.isInteger(asked) && asked >= 1 ? asked : latest;
  const current = tries.find((t) => t.try_number === tryNumber) ?? null;
  const isLatest = tryNumber === latest;
  const running = !!ti && isLatest && isActive(ti.state);
  const editor = canEdit(props.session);
  const rendered = current?.rendered_fields && current.rendered_fields.kind ? current.rendered_fields : ti?.rendered_fields;

  const act = (title: string, body: string, label: string, call: () => Promise<unknown>, danger = false) =>
    confirm.ask({
      title,
      body: <p>{body}</p>,
      confirm: label,
      danger,
      run: async () => {
        try {
          await call();
        } finally {
          live.refresh();
          xcom.refresh();
        }
      },
    });

  return (
    <>
      <PageHeader
        crumbs={[
          { href: '/dags', label: 'DAGs' },
          { href: href(['dags', dagId]), label: dagId },
          { href: href(['dags', dagId, 'runs', runId]), label: runId },
        ]}
        title={
          <span class="title-with-state">
            {ti && <StateMark state={ti.state} size="md" />}
            <span>{taskId}</span>
          </span>
        }
        actions={
          <>
            <Updated at={live.updatedAt} error={live.error} />
            {editor && ti && (
              <span class="btn-row">
                <button
                  type="button"
                  class="btn"
                  onClick={() => {
                    const choice = { downstream: false };
                    confirm.ask({
                      title: `Clear ${taskId}?`,
                      body: <ClearTaskBody dagId={dagId} runId={runId} taskId={taskId} nextTry={latest + 1} choice={choice} />,
                      confirm: 'Clear',
                      run: async () => {
                        try {
                          await api('POST', p`/dags/${dagId}/clearTaskInstances`, clearBody(taskId, runId, false, choice.downstream));
                        } finally {
                          live.refresh();
                          xcom.refresh();
                        }
                      },
                    });
                  }}
                >
                  ⟲ Clear
                </button>
                <button type="button" class="btn" onClick={() => act(`Mark ${taskId} as success?`, 'The task instance is marked success; failed and upstream-failed tasks downstream are cleared and the run is queued again.', 'Mark success', () => api('POST', p`/dags/${dagId}/updateTaskInstancesState`, { dry_run: false, task_id: taskId, dag_run_id: runId, new_state: 'success' }))}>
                  ✓ Mark success
                </button>
                <button type="button" class="btn btn-danger" onClick={() => act(`Mark ${taskId} as failed?`, 'The task instance is marked failed and the run state is worked out again from its tasks.', 'Mark failed', () => api('POST', p`/dags/${dagId}/updateTaskInstancesState`, { dry_run: false, task_id: taskId, dag_run_id: runId, new_state: 'failed' }), true)}>
                  ✕ Mark failed
                </button>
              </span>
            )}
          </>
        }
      />
      {confirm.dialog}
      {!live.data && live.error ? <ErrorBox error={live.error} /> : null}
      {!live.data && !live.error && <Loading what="the task instance" />}
      {ti && (
        <>
          <div class="try-bar" role="group" aria-label="Tries">
            <span class="try-bar-label">Try</span>
            {tries.length === 0 && <span class="muted small">not tried yet</span>}
            {tries.map((t) => (
              <a
                key={t.try_number}
                class={`try-btn st-${stateKey(t.state)} ${t.try_number === tryNumber ? 'on' : ''}`}
                href={href(['dags', dagId, 'runs', runId, 'tasks', taskId], { try: t.try_number })}
                aria-current={t.try_number === tryNumber ? 'true' : undefined}
                aria-label={`Try ${t.try_number}: ${stateLook(t.state).label}`}
                title={`Try ${t.try_number}: ${stateLook(t.state).label}`}
                onClick={(e) => {
                  e.preventDefault();
                  navigate(href(['dags', dagId, 'runs', runId, 'tasks', taskId], { try: t.try_number }), true);
                }}
              >
                <span aria-hidden="true">{stateLook(t.state).glyph}</span> {t.try_number}
              </a>
            ))}
          </div>
          <div class="details-grid">
            <section class="card">
              <h2>Try {tryNumber || '—'}</h2>
              <dl class="kv">
                <dt>State</dt><dd><StateMark state={current?.state ?? ti.state} text /></dd>
                <dt>Served by</dt>
                <dd>
                  {(current?.served_by ?? ti.served_by) ? (
                    <ServedBy value={(current?.served_by ?? ti.served_by)!} service={rendered?.kind === 'http' ? rendered.service : null} services={services.data} />
                  ) : <span class="muted">—</span>}
                </dd>
                <dt>Started</dt><dd><Time iso={current?.start_date ?? null} /></dd>
                <dt>Ended</dt><dd><Time iso={current?.end_date ?? null} /></dd>
                <dt>Duration</dt><dd>{fmtDuration(current?.duration ?? secondsBetween(current?.start_date, current?.end_date))}</dd>
                <dt>Host</dt><dd>{current?.hostname || ti.hostname || '—'}</dd>
                {current?.error && (<><dt>Error</dt><dd class="error-text">{current.error}</dd></>)}
                <dt>Kind</dt><dd>{ti.operator ?? '—'}</dd>
                <dt>Tries allowed</dt><dd>{ti.max_tries + 1}</dd>
                <dt>Queued</dt><dd><Time iso={ti.queued_when} /></dd>
              </dl>
            </section>
            <section class="card">
              <h2>{rendered?.kind === 'command' ? 'Command' : rendered?.kind === 'wait_for_service' ? 'Wait' : 'Request'}</h2>
              {!isLatest && !current?.rendered_fields && <p class="small muted">As rendered for the latest try ({latest}).</p>}
              <Rendered fields={rendered} />
            </section>
            <section class="card wide">
              <h2>Log</h2>
              {tryNumber >= 1 ? (
                <LogView dagId={dagId} runId={runId} taskId={taskId} tryNumber={tryNumber} live={running} />
              ) : (
                <p class="muted">The task has not started: its log will appear here.</p>
              )}
            </section>
            <section class="card wide">
              <h2>Output</h2>
              {!xcom.data && xcom.error ? <ErrorBox error={xcom.error} /> : null}
              {xcom.data ? (xcom.data.found ? <Code text={pretty(xcom.data.value)} class="output" aria-label="Output (return_value)" /> : <p class="muted">No output (return_value) {running ? 'yet' : 'for this task instance'}.</p>) : !xcom.error && <Loading what="the output" />}
            </section>
            <section class="card wide">
              <h2>Attempts</h2>
              <Attempts tries={tries} selected={tryNumber} link={(n) => href(['dags', dagId, 'runs', runId, 'tasks', taskId], { try: n })} />
            </section>
          </div>
        </>
      )}
    </>
  );
}

function clearBody(taskId: string, runId: string, dryRun: boolean, downstream: boolean) {
  const body: Record<string, unknown> = { dry_run: dryRun, task_ids: [taskId], dag_run_id: runId, only_failed: false };
  if (downstream) body.include_downstream = true;
  return body;
}

function ClearTaskBody(props: { dagId: string; runId: string; taskId: string; nextTry: number; choice: { downstream: boolean } }) {
  const [downstream, setDownstream] = useState(props.choice.downstream);
  return (
    <>
      <p>
        The task instance goes back to no state and runs again as try {props.nextTry}; the run is queued again. Only a finished
        run can be cleared.
      </p>
      <label class="check">
        <input
          type="checkbox"
          checked={downstream}
          onChange={(e) => {
            const v = (e.currentTarget as HTMLInputElement).checked;
            props.choice.downstream = v;
            setDownstream(v);
          }}
        />{' '}
        Also clear the tasks downstream of it
      </label>
      <DryRunList
        verb="cleared"
        deps={[downstream]}
        load={() =>
          api<{ task_instances: { task_id: string }[] }>('POST', p`/dags/${props.dagId}/clearTaskInstances`, clearBody(props.taskId, props.runId, true, downstream)).then(
            (r) => r.task_instances,
          )
        }
      />
    </>
  );
}

function ServedBy(props: { value: string; service: string | null; services: UiServices | undefined }) {
  const app = props.services?.apps.find((a) => a.instances.some((i) => i.instance_id === props.value));
  const inst = app?.instances.find((i) => i.instance_id === props.value);
  const appName = app?.name ?? props.service;
  return (
    <span class="served-by">
      <code>{props.value}</code>
      {appName && (
        <> · <a href={href(['services', appName])}>{appName}</a></>
      )}
      {inst ? (
        <span class="small served-now">
          {' '}now <StatusMark status={inst.status} /> {inst.host_name}:{inst.port}{inst.zone ? `, zone ${inst.zone}` : ''}
        </span>
      ) : props.services ? (
        <span class="small muted"> (no longer registered)</span>
      ) : null}
    </span>
  );
}

function Attempts(props: { tries: TaskTry[]; selected: number; link: (n: number) => string }) {
  if (props.tries.length === 0) return <p class="muted">No try yet.</p>;
  return (
    <div class="table-wrap">
      <table class="table compact">
        <thead>
          <tr><th scope="col">Try</th><th scope="col">State</th><th scope="col">Served by</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Error</th></tr>
        </thead>
        <tbody>
          {props.tries.map((t) => (
            <tr key={t.try_number} class={t.try_number === props.selected ? 'current-row' : ''}>
              <td><a href={props.link(t.try_number)}>{t.try_number}</a></td>
              <td><StateMark state={t.state} text /></td>
              <td>{t.served_by ? <code>{t.served_by}</code> : <span class="muted">—</span>}</td>
              <td><Time iso={t.start_date} /></td>
              <td>{fmtDuration(t.duration ?? secondsBetween(t.start_date, t.end_date))}</td>
              <td class="error-text">{t.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Rendered(props: { fields: RenderedFields | undefined }) {
  const f = props.fields;
  if (!f || !f.kind) return <p class="muted">Not rendered yet: it is rendered when the task starts.</p>;
  const timeout = (ms: number | null | undefined) => (ms ? <p class="small muted">Time limit {fmtDuration(ms / 1000)}</p> : null);
  if (f.kind === 'http') {
    const headers = Object.entries(f.headers ?? {});
    return (
      <div class="rendered">
        <p class="request-line">
          <span class="method">{f.method}</span> <a href={href(['services', f.service])}>{f.service}</a>
          <code>{f.path}</code>
        </p>
        {f.url && <p class="small muted">URL <code>{f.url}</code></p>}
        {headers.length > 0 && (
          <table class="table compact">
            <caption class="small muted">Headers</caption>
            <tbody>
              {headers.map(([k, v]) => (
                <tr key={k}><th scope="row"><code>{k}</code></th><td><code>{v}</code></td></tr>
              ))}
            </tbody>
          </table>
        )}
        {f.body !== undefined && f.body !== null && f.body !== '' && (
          <>
            <p class="small muted">Body{f.content_type ? ` (${f.content_type})` : ''}</p>
            <Code text={pretty(f.body)} />
          </>
        )}
        {f.expected_status !== undefined && f.expected_status !== null && f.expected_status !== '' && !(Array.isArray(f.expected_status) && f.expected_status.length === 0) && (
          <p class="small muted">Expected status {Array.isArray(f.expected_status) ? f.expected_status.join(', ') : String(f.expected_status)}</p>
        )}
        {timeout(f.timeout_ms)}
      </div>
    );
  }
  if (f.kind === 'wait_for_service') {
    return (
      <div class="rendered">
        <p>
          Waits until <a href={href(['services', f.service])}>{f.service}</a> has at least {f.min_instances ?? 1} instance
          {(f.min_instances ?? 1) === 1 ? '' : 's'} UP.
        </p>
        {timeout(f.timeout_ms)}
      </div>
    );
  }
  const env = Object.entries(f.env ?? {});
  return (
    <div class="rendered">
      {f.argv && f.argv.length > 0 && (
        <Code text={f.argv.map((a) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ')} />
      )}
      {f.script && (
        <>
          <p class="small muted">Script</p>
          <Code text={f.script} />
        </>
      )}
      {f.cwd && <p class="small muted">In <code>{f.cwd}</code></p>}
      {env.length > 0 && (
        <table class="table compact">
          <caption class="small muted">Environment</caption>
          <tbody>
            {env.map(([k, v]) => (
              <tr key={k}><th scope="row"><code>{k}</code></th><td><code>{v}</code></td></tr>
            ))}
          </tbody>
        </table>
      )}
      {timeout(f.timeout_ms)}
    </div>
  );
}
