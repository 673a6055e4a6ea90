import { useState } from 'preact/hooks';
import { api, canOperate, get, p } from '../api';
import { ErrorBox, Loading, PageHeader, ServiceHealthMark, StateMark, StatusMark, Time, Updated, announce, useConfirm } from '../components';
import { useTitle } from '../hooks';
import { useLive } from '../live';
import { selfPreservationWords } from '../registry_words';
import { href } from '../router';
import { statusKey, statusLook } from '../states';
import type { App, Instance, RegistryStatus, Session, UiServices } from '../types';

const fetchServices = (signal: AbortSignal) => get<UiServices>('/ui/services', { signal });

function instanceMatches(i: Instance, q: string): boolean {
  const hay = [i.instance_id, i.host_name, i.ip_addr, String(i.port), i.status, i.zone ?? '', ...Object.entries(i.metadata ?? {}).flat()];
  return hay.some((h) => h.toLowerCase().includes(q));
}

function RegistryCard(props: { r: RegistryStatus; apps: App[] }) {
  const w = selfPreservationWords(props.r);
  const byStatus: Record<string, number> = {};
  for (const a of props.apps) for (const i of a.instances) byStatus[statusKey(i.status)] = (byStatus[statusKey(i.status)] ?? 0) + 1;
  return (
    <section class={`card registry-card sp-${w.level}`} aria-labelledby="reg-h">
      <h2 id="reg-h">Registry</h2>
      <p class={`sp-words sp-${w.level}`} role={w.level === 'warn' ? 'alert' : undefined}>
        <strong>{w.title}.</strong> {w.text}
      </p>
      <dl class="stats">
        <div><dt>Instances</dt><dd>{props.r.instances}</dd></div>
        <div><dt>UP</dt><dd>{props.r.up}</dd></div>
        <div><dt>Renewals last minute</dt><dd>{props.r.renews_last_minute}</dd></div>
        <div><dt>Expected per minute</dt><dd>{props.r.expected_renews_per_minute}</dd></div>
        <div><dt>Threshold</dt><dd>{props.r.renews_threshold}</dd></div>
        <div><dt>Self-preservation</dt><dd>{props.r.self_preservation_enabled ? (props.r.self_preservation_active ? 'on, active' : 'on, idle') : 'off'}</dd></div>
      </dl>
      {Object.keys(byStatus).length > 0 && (
        <p class="status-totals">
          {Object.entries(byStatus).map(([s, n]) => (
            <span key={s} class="status-total"><StatusMark status={s} /> {n}</span>
          ))}
        </p>
      )}
    </section>
  );
}

function useStatusAction(refresh: () => void) {
  const confirm = useConfirm();
  const [error, setError] = useState<unknown>(null);
  const takeOut = (i: Instance) =>
    confirm.ask({
      title: `Take ${i.instance_id} out of service?`,
      body: (
        <p>
          Its status becomes OUT_OF_SERVICE: callers that look {i.app} up through the registry stop choosing it, while its
          heartbeats keep its registration. You can put it back to UP at any time.
        </p>
      ),
      confirm: 'Take out of service',
      danger: true,
      run: async () => {
        try {
          await api('PUT', p`/ui/services/${i.app}/instances/${i.instance_id}/status`, { status: 'OUT_OF_SERVICE' });
          announce(`${i.instance_id} is now out of service`);
        } finally {
          refresh();
        }
      },
    });
  const putBack = async (i: Instance) => {
    setError(null);
    try {
      await api('DELETE', p`/ui/services/${i.app}/instances/${i.instance_id}/status`);
      announce(`${i.instance_id}: override removed`);
    } catch (e) {
      setError(e);
    }
    refresh();
  };
  return { takeOut, putBack, dialog: confirm.dialog, error };
}

function isOverridden(i: Instance): boolean {
  return !!i.overridden_status && i.overridden_status !== 'UNKNOWN';
}

function InstancesTable(props: { app: App; session: Session; query: string; takeOut: (i: Instance) => void; putBack: (i: Instance) => void; full?: boolean }) {
  const q = props.query.trim().toLowerCase();
  const instances = q ? props.app.instances.filter((i) => instanceMatches(i, q) || props.app.name.toLowerCase().includes(q)) : props.app.instances;
  if (props.app.instances.length === 0) {
    return <p class="alert alert-error">No instance is registered: every call to {props.app.name} fails until one registers.</p>;
  }
  const op = canOperate(props.session);
  return (
    <div class="table-wrap">
      <table class="table instances">
        <thead>
          <tr>
            <th scope="col">Instance</th>
            <th scope="col">Status</th>
            <th scope="col">Zone</th>
            <th scope="col">Address</th>
            <th scope="col">Metadata</th>
            <th scope="col">Last renewal</th>
            <th scope="col">Lease expires</th>
            {props.full && <th scope="col">Registered</th>}
            {op && <th scope="col"><span class="sr-only">Actions</span></th>}
          </tr>
        </thead>
        <tbody>
          {instances.map((i) => (
            <tr key={i.instance_id} data-instance={i.instance_id} data-status={i.status}>
              <td>
                <code class="instance-id">{i.instance_id}</code>
                {props.full && (i.home_page_url || i.status_page_url || i.health_check_url) && (
                  <div class="small url-list">
                    {i.home_page_url && <span>home <code>{i.home_page_url}</code></span>}
                    {i.status_page_url && <span>status <code>{i.status_page_url}</code></span>}
                    {i.health_check_url && <span>health <code>{i.health_check_url}</code></span>}
                  </div>
                )}
              </td>
              <td>
                <StatusMark status={i.status} />
                {isOverridden(i) && <div class="small muted">override: {statusLook(i.overridden_status).label}</div>}
                {i.breaker && i.breaker.state !== 'closed' && (
                  <div class="small muted breaker" data-breaker={i.breaker.state} title={i.breaker.last_error ?? ''}>
                    circuit {i.breaker.state === 'open' ? 'open' : 'half-open'}: tasks skip it{i.breaker.last_error ? ` (${i.breaker.last_error})` : ''}
                  </div>
                )}
              </td>
              <td>{i.zone ?? <span class="muted">—</span>}</td>
              <td><code>{i.host_name}:{i.port}</code>{i.ip_addr && i.ip_addr !== i.host_name && <div class="small muted">{i.ip_addr}</div>}</td>
              <td>
                <span class="meta-list">
                  {Object.entries(i.metadata ?? {}).length === 0 && <span class="muted">—</span>}
                  {Object.entries(i.metadata ?? {}).map(([k, v]) => (
                    <span key={k} class="meta"><span class="meta-k">{k}</span>=<span class="meta-v">{v}</span></span>
                  ))}
                </span>
              </td>
              <td><Time iso={i.last_renewal} ago /></td>
              <td><Time iso={i.lease_expires} ago /></td>
              {props.full && <td><Time iso={i.registered_at} /></td>}
              {op && (
                <td class="actions">
                  {isOverridden(i) || i.status === 'OUT_OF_SERVICE' ? (
                    <button type="button" class="btn btn-sm" onClick={() => props.putBack(i)} aria-label={`Put ${i.instance_id} back to UP`}>Back to UP</button>
                  ) : (
                    <button type="button" class="btn btn-sm btn-danger-outline" onClick={() => props.takeOut(i)} aria-label={`Take ${i.instance_id} out of service`}>Out of service</button>
                  )}
                </td>
              )}
            </tr>
          ))}
          {instances.length === 0 && (
            <tr><td colSpan={8} class="muted">No instance matches.</td></tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function UsedBy(props: { app: App }) {
  if (props.app.used_by.length === 0) return <p class="muted small">No DAG calls this service.</p>;
  return (
    <ul class="used-by">
      {props.app.used_by.map((u) => (
        <li key={`${u.dag_id}/${u.task_id}`}>
          <a href={href(['dags', u.dag_id])}>{u.dag_id}</a>
          <span class="muted"> › </span>
          <code>{u.task_id}</code>
          <span class="muted small"> ({u.kind === 'wait_for_service' ? 'waits for it' : u.kind})</span>{' '}
          <span class="run-dots">
            {u.last_runs.map((r) => (
              <a key={r.dag_run_id} class="run-dot-link" href={href(['dags', u.dag_id, 'runs', r.dag_run_id, 'tasks', u.task_id])}>
                <StateMark state={r.state} extra={r.dag_run_id} />
              </a>
            ))}
          </span>
        </li>
      ))}
    </ul>
  );
}

export function ServicesPage(props: { session: Session }) {
  useTitle('Services');
  const [query, setQuery] = useState('');
  const live = useLive(fetchServices, [], true);
  const actions = useStatusAction(live.refresh);
  const d = live.data;
  const q = query.trim().toLowerCase();
  const apps = d
    ? d.apps
        .filter((a) => !q || a.name.toLowerCase().includes(q) || a.instances.some((i) => instanceMatches(i, q)) || a.used_by.some((u) => u.dag_id.toLowerCase().includes(q)))
        .sort((a, b) => a.name.localeCompare(b.name))
    : [];
  return (
    <>
      <PageHeader title="Services" actions={<Updated at={live.updatedAt} error={live.error} />} />
      {actions.dialog}
      <ErrorBox error={actions.error} />
      {!d && live.error ? <ErrorBox error={live.error} /> : null}
      {!d && !live.error && <Loading what="the registry" />}
      {d && (
        <>
          <RegistryCard r={d.registry} apps={d.apps} />
          <div class="toolbar">
            <div class="search">
              <label for="svc-search" class="sr-only">Search services, instances and metadata</label>
              <input id="svc-search" type="search" placeholder="Search apps, instances, hosts, metadata, DAGs" value={query} onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)} />
            </div>
          </div>
          {apps.length === 0 && <p class="empty">{d.apps.length === 0 ? 'No service is registered.' : 'Nothing matches.'}</p>}
          {apps.map((a) => {
            const up = a.instances.filter((i) => i.status === 'UP').length;
            return (
              <section key={a.name} class="card app-card" data-app={a.name} aria-labelledby={`app-${a.name}`}>
                <div class="app-head">
                  <h2 id={`app-${a.name}`}><a href={href(['services', a.name])}>{a.name}</a></h2>
                  <ServiceHealthMark name={a.name} up={up} total={a.instances.length} link={false} hideName />
                </div>
                <InstancesTable app={a} session={props.session} query={query} takeOut={actions.takeOut} putBack={actions.putBack} />
                <h3 class="h-small">Used by</h3>
                <UsedBy app={a} />
              </section>
            );
          })}
        </>
      )}
    </>
  );
}

export function ServicePage(props: { session: Session; app: string }) {
  useTitle(props.app);
  const [query, setQuery] = useState('');
  const live = useLive(fetchServices, [], true);
  const actions = useStatusAction(live.refresh);
  const d = live.data;
  const app = d?.apps.find((a) => a.name === props.app) ?? d?.apps.find((a) => a.name.toUpperCase() === props.app.toUpperCase());
  return (
    <>
      <PageHeader
        crumbs={[{ href: '/services', label: 'Services' }]}
        title={props.app}
        actions={
          <>
            <Updated at={live.updatedAt} error={live.error} />
            {app && <ServiceHealthMark name={app.name} up={app.instances.filter((i) => i.status === 'UP').length} total={app.instances.length} link={false} hideName />}
          </>
        }
      />
      {actions.dialog}
      <ErrorBox error={actions.error} />
      {!d && live.error ? <ErrorBox error={live.error} /> : null}
      {!d && !live.error && <Loading what="the registry" />}
      {d && !app && (
        <div class="alert alert-info">
          No service named <code>{props.app}</code> is registered, and no DAG calls one by that name. <a href="/services">All services</a>
        </div>
      )}
      {app && (
        <>
          <section class="card" aria-labelledby="inst-h">
            <div class="app-head">
              <h2 id="inst-h">Instances</h2>
              <div class="search">
                <label for="inst-search" class="sr-only">Search instances and metadata</label>
                <input id="inst-search" type="search" placeholder="Search instances and metadata" value={query} onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)} />
              </div>
            </div>
            <InstancesTable app={app} session={props.session} query={query} takeOut={actions.takeOut} putBack={actions.putBack} full />
          </section>
          <section class="card" aria-labelledby="used-h">
            <h2 id="used-h">Used by</h2>
            <UsedBy app={app} />
          </section>
        </>
      )}
    </>
  );
}
