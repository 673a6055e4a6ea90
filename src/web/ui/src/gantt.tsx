// Gantt chart of one run: per task, the queued span (queued → start) and the running span
// (start → end, or now while running), on a shared time axis.
import { fmtDuration } from './format';
import { useNow } from './live';
import { StateMark } from './components';
import { stateKey, stateLook } from './states';

export interface GanttRow {
  task_id: string;
  href: string;
  state: string | null;
  queued_when: string | null;
  start_date: string | null;
  end_date: string | null;
}

const t = (iso: string | null) => (iso ? Date.parse(iso) : NaN);

export function Gantt(props: { rows: GanttRow[]; caption: string }) {
  const now = useNow(1000);
  const times: number[] = [];
  for (const r of props.rows) {
    for (const v of [t(r.queued_when), t(r.start_date), t(r.end_date)]) if (!Number.isNaN(v)) times.push(v);
    if (r.start_date && !r.end_date) times.push(now);
    if (r.queued_when && !r.start_date && (r.state === 'queued' || r.state === 'scheduled')) times.push(now);
  }
  if (times.length === 0) return <p class="empty">No task of this run has been queued or started yet.</p>;
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, t0 + 1);
  const span = t1 - t0;
  const pct = (v: number) => ((v - t0) / span) * 100;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <figure class="gantt" aria-label={props.caption}>
      <figcaption class="sr-only">{props.caption}</figcaption>
      <div class="gantt-axis" aria-hidden="true">
        <span class="gantt-label" />
        <span class="gantt-track">
          {ticks.map((k) => (
            <span key={k} class="gantt-tick" style={{ left: `${k * 100}%` }}>
              +{fmtDuration((span * k) / 1000)}
            </span>
          ))}
        </span>
      </div>
      <ul class="gantt-rows">
        {props.rows.map((r) => {
          const q = t(r.queued_when);
          const s = t(r.start_date);
          const e = r.end_date ? t(r.end_date) : r.start_date ? now : NaN;
          const queuedEnd = !Number.isNaN(s) ? s : r.state === 'queued' || r.state === 'scheduled' ? now : NaN;
          const runSecs = !Number.isNaN(s) && !Number.isNaN(e) ? (e - s) / 1000 : null;
          const queuedSecs = !Number.isNaN(q) && !Number.isNaN(queuedEnd) ? (queuedEnd - q) / 1000 : null;
          const words = `${r.task_id}: ${stateLook(r.state).label}` +
            (queuedSecs !== null ? `, queued ${fmtDuration(queuedSecs)}` : '') +
            (runSecs !== null ? `, ran ${fmtDuration(runSecs)}` : '');
          return (
            <li key={r.task_id} class="gantt-row">
              <a class="gantt-label" href={r.href} title={words}>
                <StateMark state={r.state} /> <span class="gantt-task">{r.task_id}</span>
              </a>
              <span class="gantt-track" role="img" aria-label={words} title={words}>
                {queuedSecs !== null && (
                  <span class="gantt-bar queued-bar" style={{ left: `${pct(q)}%`, width: `${Math.max(0.3, pct(queuedEnd) - pct(q))}%` }} />
                )}
                {runSecs !== null && (
                  <span class={`gantt-bar st-${stateKey(r.state)}`} style={{ left: `${pct(s)}%`, width: `${Math.max(0.5, pct(e) - pct(s))}%` }}>
                    <span class="gantt-dur">{fmtDuration(runSecs)}</span>
                  </span>
                )}
              </span>
            </li>
          );
        })}
      </ul>
      <p class="gantt-legend small muted" aria-hidden="true">
        <span class="gantt-key queued-bar" /> queued <span class="gantt-key st-success" /> running → end (coloured by state)
      </p>
    </figure>
  );
}
