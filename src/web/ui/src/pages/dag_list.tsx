import { useState } from 'preact/hooks';
import { api, canEdit, get, p } from '../api';
import { ErrorBox, Loading, PageHeader, ServiceHealthMark, StateMark, Switch, Time, Updated, announce } from '../components';
import { fmtSchedule } from '../format';
import { PHONE, useMedia, useTitle } from '../hooks';
import { useLive } from '../live';
import { href, navigate } from '../router';
import { STATE_ORDER, stateLook } from '../states';
import type { ImportError, Session, UiDag, UiDags } from '../types';

export function ImportErrors(props: { errors: ImportError[]; bare?: boolean }) {
  if (props.errors.length === 0) return null;
  const list = (
    <ul class="import-errors">
      {props.errors.map((e) => (
        <li key={e.import_error_id}>
          <div class="ie-file">
            <code>{e.filename}{e.line !== null && e.line !== undefined ? `:${e.line}` : ''}</code>
            <span class="muted small"> · <Time iso={e.timestamp} /></span>
          </div>
          <pre class="ie-reason">{e.stack_trace}</pre>
        </li>
      ))}
    </ul>
  );
  if (props.bare) return list;
  return (
    <section class="alert alert-error import-banner" aria-labelledby="ie-banner-h">
      <h2 id="ie-banner-h">
        {props.errors.length} DAG file{props.errors.length === 1 ? '' : 's'} failed to load
      </h2>
      {list}
    </section>
  );
}

export function RunDots(props: { dagId: string; runs: UiDag['recent_runs']; max?: number }) {
  const runs = props.runs.slice(0, props.max ?? 10);
  if (runs.length === 0) return <span class="muted small">no runs yet</span>;
  return (
    <span class="run-dots">
      {runs.map((r) => (
        <a key={r.dag_run_id} class="run-dot-link" href={href(['dags', props.dagId, 'runs', r.dag_run_id])}>
          <StateMark state={r.state} extra={`${r.dag_run_id}${r.start_date ? ', started ' + r.start_date : ''}`} />
        </a>
      ))}
    </span>
  );
}

export function RunCounts(props: { counts: Record<string, number> | undefined }) {
  const entries = STATE_ORDER.filter((s) => (props.counts?.[s] ?? 0) > 0).map((s) => [s, props.counts![s]] as const);
  if (entries.length === 0) return <span class="muted small">—</span>;
  return (
    <span class="run-counts">
      {entries.map(([s, n]) => (
        <span key={s} class={`count-chip st-${s}`} title={`${n} ${stateLook(s).label}`} aria-label={`${n} ${stateLook(s).label}`}>
          <span aria-hidden="true">{stateLook(s).glyph} {n}</span>
        </span>
      ))}
    </span>
  );
}

type Filter = 'all' | 'active' | 'paused' | 'running' | 'failed';

function matches(d: UiDag, q: string, f: Filter): boolean {
  if (f === 'active' && d.is_paused) return false;
  if (f === 'paused' && !d.is_paused) return false;
  if (f === 'running' && (d.run_counts?.running ?? 0) + (d.run_counts?.queued ?? 0) === 0) return false;
  if (f === 'failed' && d.recent_runs?.[0]?.state !== 'failed') return false;
  if (!q) return true;
  const needle = q.toLowerCase();
  return d.dag_id.toLowerCase().includes(needle) || (d.tags ?? []).some((t) => t.name.toLowerCase().includes(needle));
}

export function DagListPage(props: { session: Session }) {
  useTitle('DAGs');
  const phone = useMedia(PHONE);
  const [query, setQuery] = useState(() => new URLSearchParams(location.search).get('q') ?? '');
  const [filter, setFilter] = useState<Filter>('all');
  const [sort, setSort] = useState<'id' | 'last'>('id');
  const [actionError, setActionError] = useState<unknown>(null);
  const live = useLive(
    (signal) => get<UiDags>('/ui/dags?runs=10', { signal }),
    [],
    (d) => d.dags.some((x) => (x.run_counts?.running ?? 0) + (x.run_counts?.queued ?? 0) > 0),
  );
  const editor = canEdit(props.session);

  const setPaused = async (d: UiDag, paused: boolean) => {
    setActionError(null);
    try {
      await api('PATCH', p`/dags/${d.dag_id}` + '?update_mask=is_paused', { is_paused: paused });
      announce(`${d.dag_id} ${paused ? 'paused' : 'unpaused'}`);
    } catch (e) {
      setActionError(e);
    }
    live.refresh();
  };

  const data = live.data;
  let dags = data ? data.dags.filter((d) => matches(d, query.trim(), filter)) : [];
  dags = [...dags].sort((a, b) => {
    if (sort === 'last') {
      const ta = a.recent_runs?.[0]?.start_date ?? a.recent_runs?.[0]?.logical_date ?? '';
      const tb = b.recent_runs?.[0]?.start_date ?? b.recent_runs?.[0]?.logical_date ?? '';
      return tb.localeCompare(ta);
    }
    return a.dag_id.localeCompare(b.dag_id);
  });

  const counts = data
    ? {
        all: data.dags.length,
        active: data.dags.filter((d) => !d.is_paused).length,
        paused: data.dags.filter((d) => d.is_paused).length,
        running: data.dags.filter((d) => (d.run_counts?.running ?? 0) + (d.run_counts?.queued ?? 0) > 0).length,
        failed: data.dags.filter((d) => d.recent_runs?.[0]?.state === 'failed').length,
      }
    : null;

  return (
    <>
      <PageHeader title="DAGs" actions={<Updated at={live.updatedAt} error={live.error} />} />
      {data && <ImportErrors errors={data.import_errors} />}
      <div class="toolbar">
        <div class="search">
          <label for="dag-search" class="sr-only">Search DAGs by id or tag</label>
          <input
            id="dag-search"
            type="search"
            placeholder="Search by DAG id or tag"
            value={query}
            onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)}
          />
        </div>
        <div class="segmented" role="group" aria-label="Filter DAGs">
          {(['all', 'active', 'paused', 'running', 'failed'] as Filter[]).map((f) => (
            <button key={f} type="button" class={filter === f ? 'on' : ''} aria-pressed={filter === f} onClick={() => setFilter(f)}>
              {f[0].toUpperCase() + f.slice(1)}
              {counts && <span class="seg-count">{counts[f]}</span>}
            </button>
          ))}
        </div>
        <label class="sort">
          <span>Sort</span>
          <select value={sort} onChange={(e) => setSort((e.currentTarget as HTMLSelectElement).value as 'id' | 'last')}>
            <option value="id">by id</option>
            <option value="last">by last run</option>
          </select>
        </label>
      </div>
      <ErrorBox error={actionError} title="Could not change the DAG:" />
      {!data && live.error ? <ErrorBox error={live.error} /> : null}
      {!data && !live.error && <Loading what="DAGs" />}
      {data && dags.length === 0 && (
        <p class="empty">{data.dags.length === 0 ? 'No DAG is loaded.' : 'No DAG matches.'}</p>
      )}
      {data && dags.length > 0 && (phone ? (
        <ul class="dag-cards">
          {dags.map((d) => (
            <li key={d.dag_id} class="dag-card">
              <div class="dag-card-top">
                <a class="dag-id" href={href(['dags', d.dag_id])}>{d.dag_id}</a>
                {d.recent_runs?.[0] && <StateMark state={d.recent_runs[0].state} text />}
              </div>
              <Tags dag={d} />
              <dl class="kv-inline">
                <div><dt>Next run</dt><dd><Time iso={d.next_dagrun} /></dd></div>
                <div><dt>Schedule</dt><dd>{fmtSchedule(d.schedule_interval)}</dd></div>
              </dl>
              <RunDots dagId={d.dag_id} runs={d.recent_runs ?? []} max={8} />
              <div class="dag-card-actions">
                {editor && (
                  <Switch checked={!d.is_paused} label={d.is_paused ? `${d.dag_id} is paused: unpause` : `${d.dag_id} is active: pause`} onChange={(on) => setPaused(d, !on)} />
                )}
                <span class="small muted">{d.is_paused ? 'Paused' : 'Active'}</span>
                {editor && (
                  <a class="btn btn-primary btn-sm trigger-btn" href={href(['dags', d.dag_id, 'trigger'])} aria-label={`Trigger ${d.dag_id}`}>▶ Trigger</a>
                )}
              </div>
            </li>
          ))}
        </ul>
      ) : (
        <div class="table-wrap">
          <table class="table dag-table">
            <thead>
              <tr>
                <th scope="col"><span class="sr-only">Active</span></th>
                <th scope="col">DAG</th>
                <th scope="col">Owner</th>
                <th scope="col">Schedule</th>
                <th scope="col">Next run</th>
                <th scope="col">Last runs</th>
                <th scope="col">Runs</th>
                <th scope="col">Services</th>
                <th scope="col"><span class="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {dags.map((d) => (
                <tr key={d.dag_id} class={d.is_paused ? 'paused' : ''}>
                  <td>
                    {editor ? (
                      <Switch checked={!d.is_paused} label={d.is_paused ? `${d.dag_id} is paused: unpause` : `${d.dag_id} is active: pause`} onChange={(on) => setPaused(d, !on)} />
                    ) : (
                      <span class={`pause-state ${d.is_paused ? 'paused' : ''}`} title={d.is_paused ? 'Paused' : 'Active'}>{d.is_paused ? '∥' : '●'}<span class="sr-only">{d.is_paused ? 'Paused' : 'Active'}</span></span>
                    )}
                  </td>
                  <td>
                    <a class="dag-id" href={href(['dags', d.dag_id])}>{d.dag_id}</a>
                    {d.has_import_errors && <span class="badge badge-error" title="The DAG file has import errors">import error</span>}
                    {d.description && <div class="muted small desc">{d.description}</div>}
                    <Tags dag={d} />
                  </td>
                  <td>{(d.owners ?? []).join(', ')}</td>
                  <td><code class="sched">{fmtSchedule(d.schedule_interval)}</code></td>
                  <td><Time iso={d.next_dagrun} /></td>
                  <td><RunDots dagId={d.dag_id} runs={d.recent_runs ?? []} /></td>
                  <td><RunCounts counts={d.run_counts} /></td>
                  <td>
                    <span class="svc-list">
                      {(d.services ?? []).length === 0 ? <span class="muted small">—</span> : d.services.map((s) => <ServiceHealthMark key={s.name} {...s} />)}
                    </span>
                  </td>
                  <td class="actions">
                    {editor && (
                      <a class="btn btn-sm trigger-btn" href={href(['dags', d.dag_id, 'trigger'])} title={`Trigger ${d.dag_id}`} aria-label={`Trigger ${d.dag_id}`}>▶ Trigger</a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </>
  );
}

function Tags(props: { dag: UiDag }) {
  const tags = props.dag.tags ?? [];
  if (tags.length === 0) return null;
  return (
    <span class="tags">
      {tags.map((t) => (
        <button
          key={t.name}
          type="button"
          class="tag"
          title={`Show DAGs tagged ${t.name}`}
          onClick={() => {
            const input = document.getElementById('dag-search') as HTMLInputElement | null;
            if (input) {
              input.value = t.name;
              input.dispatchEvent(new Event('input', { bubbles: true }));
            } else navigate(`/dags?q=${encodeURIComponent(t.name)}`);
          }}
        >
          {t.name}
        </button>
      ))}
    </span>
  );
}

