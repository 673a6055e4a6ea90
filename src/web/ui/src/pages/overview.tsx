import { get } from '../api';
import { fmtDuration, secondsBetween } from '../format';
import { ErrorBox, Loading, PageHeader, ServiceHealthMark, StateMark, StatusMark, Time, Updated } from '../components';
import { useTitle } from '../hooks';
import { useLive } from '../live';
import { selfPreservationWords } from '../registry_words';
import { href } from '../router';
import type { Health, UiDags, UiServices } from '../types';
import { ImportErrors } from './dag_list';

const RECENT = 10;

interface OverviewData {
  health: Health | null;
  healthError: unknown;
  dags: UiDags;
  services: UiServices | null;
  servicesError: unknown;
}

async function load(signal: AbortSignal): Promise<OverviewData> {
  const [health, dags, services] = await Promise.allSettled([
    get<Health>('/health', { signal }),
    get<UiDags>(`/ui/dags?runs=${RECENT}`, { signal }),
    get<UiServices>('/ui/services', { signal }),
  ]);
  if (dags.status === 'rejected') throw dags.reason;
  return {
    health: health.status === 'fulfilled' ? health.value : null,
    healthError: health.status === 'rejected' ? health.reason : null,
    dags: dags.value,
    services: services.status === 'fulfilled' ? services.value : null,
    servicesError: services.status === 'rejected' ? services.reason : null,
  };
}

const COMPONENT_NAMES: Record<string, string> = {
  metadatabase: 'Store',
  scheduler: 'Scheduler',
  registry: 'Registry',
  triggerer: 'Triggerer',
  dag_processor: 'DAG processor',
};

export function OverviewPage() {
  useTitle('Overview');
  const live = useLive(load, [], (d) => d.dags.dags.some((x) => (x.run_counts?.running ?? 0) + (x.run_counts?.queued ?? 0) > 0));
  const d = live.data;
  return (
    <>
      <PageHeader title="Overview" actions={<Updated at={live.updatedAt} error={live.error} />} />
      <ErrorBox error={!d ? live.error : null} />
      {!d && !live.error && <Loading />}
      {d && (
        <div class="overview">
          <section class="card" aria-labelledby="health-h">
            <h2 id="health-h">Health</h2>
            {d.health ? (
              <ul class="health-list">
                {Object.entries(d.health).filter(([, c]) => c && c.status !== null && c.status !== undefined).map(([name, c]) => {
                  const ok = c?.status === 'healthy';
                  const beat = (c as { latest_scheduler_heartbeat?: string | null })?.latest_scheduler_heartbeat;
                  return (
                    <li key={name} class={ok ? 'ok' : 'bad'}>
                      <span class={`health-dot ${ok ? 'is-UP' : 'is-DOWN'}`} aria-hidden="true">{ok ? '▲' : '▼'}</span>
                      <span class="health-name">{COMPONENT_NAMES[name] ?? name}</span>
                      <span class="health-status">{c?.status ?? 'unknown'}</span>
                      {beat && <span class="muted small">heartbeat <Time iso={beat} ago /></span>}
                    </li>
                  );
                })}
                {d.services && (
                  <li class={d.services.registry.self_preservation_active ? 'bad' : 'ok'}>
                    <span class={`health-dot ${d.services.registry.self_preservation_active ? 'is-STARTING' : 'is-UP'}`} aria-hidden="true">
                      {d.services.registry.self_preservation_active ? '!' : '▲'}
                    </span>
                    <span class="health-name">Registry</span>
                    <span class="health-status">{d.services.registry.up} of {d.services.registry.instances} instances UP</span>
                  </li>
                )}
              </ul>
            ) : (
              <ErrorBox error={d.healthError} />
            )}
            {d.services && (() => {
              const w = selfPreservationWords(d.services.registry);
              return (
                <p class={`sp-words sp-${w.level}`}>
                  <strong>{w.title}.</strong> {w.text}
                </p>
              );
            })()}
          </section>

          <section class="card" aria-labelledby="failing-h">
            <h2 id="failing-h">Failing DAGs</h2>
            {(() => {
              const failing = d.dags.dags
                .map((x) => ({ dag: x, failed: (x.recent_runs ?? []).filter((r) => r.state === 'failed') }))
                .filter((f) => f.failed.length > 0)
                .sort((f, g) => Number(g.dag.recent_runs[0]?.state === 'failed') - Number(f.dag.recent_runs[0]?.state === 'failed'));
              if (failing.length === 0) return <p class="muted">No failed run among each DAG's latest {RECENT}.</p>;
              return (
                <ul class="plain-list">
                  {failing.map(({ dag: x, failed }) => (
                    <li key={x.dag_id}>
                      <StateMark state="failed" />{' '}
                      <a href={href(['dags', x.dag_id])}>{x.dag_id}</a>
                      <div class="small muted">
                        {failed.length} of the latest {x.recent_runs.length} runs failed
                        {x.recent_runs[0]?.state === 'failed' ? ', the latest among them' : `; the latest is ${x.recent_runs[0]?.state}`} ·{' '}
                        <a href={href(['dags', x.dag_id, 'runs', failed[0].dag_run_id])}>last failure</a> <Time iso={failed[0].end_date ?? failed[0].start_date} ago />
                      </div>
                    </li>
                  ))}
                </ul>
              );
            })()}
            <p class="small">
              {d.dags.dags.length} DAG{d.dags.dags.length === 1 ? '' : 's'} ·{' '}
              {d.dags.dags.reduce((n, x) => n + (x.run_counts?.running ?? 0), 0)} running ·{' '}
              {d.dags.dags.reduce((n, x) => n + (x.run_counts?.queued ?? 0), 0)} queued · <a href="/dags">All DAGs</a>
            </p>
          </section>

          <section class="card" aria-labelledby="down-h">
            <h2 id="down-h">Services down</h2>
            {d.services ? (() => {
              const down = d.services.apps.filter((a) => !a.instances.some((i) => i.status === 'UP'));
              const degraded = d.services.apps.filter((a) => a.instances.some((i) => i.status === 'UP') && a.instances.some((i) => i.status !== 'UP'));
              if (down.length === 0 && degraded.length === 0) return <p class="muted">Every registered service has all its instances UP.</p>;
              return (
                <ul class="plain-list">
                  {[...down, ...degraded].map((a) => (
                    <li key={a.name}>
                      <ServiceHealthMark name={a.name} up={a.instances.filter((i) => i.status === 'UP').length} total={a.instances.length} />
                      {a.instances.filter((i) => i.status !== 'UP').map((i) => (
                        <span key={i.instance_id} class="small"> <StatusMark status={i.status} /> {i.instance_id}</span>
                      ))}
                      {a.used_by.length > 0 && (
                        <span class="small muted"> · needed by {[...new Set(a.used_by.map((u) => u.dag_id))].join(', ')}</span>
                      )}
                    </li>
                  ))}
                </ul>
              );
            })() : <ErrorBox error={d.servicesError} />}
            <p class="small"><a href="/services">All services</a></p>
          </section>

          <section class="card wide" aria-labelledby="recent-h">
            <h2 id="recent-h">Latest runs</h2>
            {(() => {
              const runs = d.dags.dags
                .flatMap((x) => (x.recent_runs ?? []).map((r) => ({ dag: x.dag_id, ...r })))
                .sort((a, b) => (b.start_date ?? b.logical_date ?? '').localeCompare(a.start_date ?? a.logical_date ?? ''))
                .slice(0, 8);
              if (runs.length === 0) return <p class="muted">No run yet.</p>;
              return (
                <div class="table-wrap">
                  <table class="table compact">
                    <thead>
                      <tr><th scope="col">State</th><th scope="col">DAG</th><th scope="col">Run</th><th scope="col">Type</th><th scope="col">Started</th><th scope="col">Duration</th></tr>
                    </thead>
                    <tbody>
                      {runs.map((r) => (
                        <tr key={`${r.dag}/${r.dag_run_id}`}>
                          <td><StateMark state={r.state} text /></td>
                          <td><a href={href(['dags', r.dag])}>{r.dag}</a></td>
                          <td><a href={href(['dags', r.dag, 'runs', r.dag_run_id])}><code>{r.dag_run_id}</code></a></td>
                          <td>{r.run_type}</td>
                          <td><Time iso={r.start_date} /></td>
                          <td>{fmtDuration(secondsBetween(r.start_date, r.end_date))}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              );
            })()}
          </section>

          <section class="card wide" aria-labelledby="ie-h">
            <h2 id="ie-h">Import errors</h2>
            {d.dags.import_errors.length === 0 ? <p class="muted">Every DAG file loaded.</p> : <ImportErrors errors={d.dags.import_errors} bare />}
          </section>
        </div>
      )}
    </>
  );
}
