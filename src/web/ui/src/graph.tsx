// The DAG's graph: dagre layout (in a worker), nodes coloured by their state in the selected run,
// each showing its kind and, for tasks that call a service, that service's live UP/total.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { PHONE, useMedia } from './hooks';
import { layoutGraph } from './layout';
import type { LayoutResult } from './layout_types';
import { href } from './router';
import { stateKey, stateLook } from './states';
import type { GridRun, GridTask, ServiceHealth } from './types';

const NODE_H = 74;
const CHAR_W = 7.4;

export function kindLine(t: GridTask): string {
  if (t.kind === 'http') return `HTTP ${t.method ?? ''} ${t.path ?? ''}`.trim();
  if (t.kind === 'command') return 'command';
  if (t.kind === 'wait_for_service') return 'wait for service';
  return t.kind;
}

function nodeWidth(t: GridTask): number {
  const longest = Math.max(t.task_id.length * 1.1 + 3, kindLine(t).length, (t.service ?? '').length + 8);
  return Math.min(380, Math.max(170, Math.ceil(longest * CHAR_W) + 28));
}

function truncate(s: string, width: number): string {
  const max = Math.floor((width - 28) / CHAR_W);
  return s.length > max ? s.slice(0, Math.max(1, max - 1)) + '…' : s;
}

function pathOf(points: { x: number; y: number }[]): string {
  if (points.length === 0) return '';
  let d = `M${points[0].x},${points[0].y}`;
  if (points.length === 2) return d + `L${points[1].x},${points[1].y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const c = points[i];
    const n = points[i + 1];
    const mx = i === points.length - 2 ? n.x : (c.x + n.x) / 2;
    const my = i === points.length - 2 ? n.y : (c.y + n.y) / 2;
    d += `Q${c.x},${c.y} ${mx},${my}`;
  }
  return d;
}

export function GraphView(props: {
  dagId: string;
  tasks: GridTask[];
  run: GridRun | null;
  services: Record<string, ServiceHealth> | null;
}) {
  const phone = useMedia(PHONE);
  const rankdir = phone ? 'TB' : 'LR';
  const shape = useMemo(
    () => ({
      rankdir: rankdir as 'LR' | 'TB',
      nodes: props.tasks.map((t) => ({ id: t.task_id, width: nodeWidth(t), height: NODE_H })),
      edges: props.tasks.flatMap((t) => t.downstream_task_ids.map((d) => ({ from: t.task_id, to: d }))),
    }),
    [JSON.stringify(props.tasks.map((t) => [t.task_id, t.downstream_task_ids, kindLine(t), t.service])), rankdir],
  );
  const [result, setResult] = useState<LayoutResult | null>(null);
  useEffect(() => {
    let alive = true;
    layoutGraph(shape).then((r) => alive && setResult(r));
    return () => {
      alive = false;
    };
  }, [shape]);

  if (props.tasks.length === 0) return <p class="empty">This DAG has no tasks.</p>;
  if (!result) return <p class="muted" role="status">Laying out the graph…</p>;
  if (result.error) return <div class="alert alert-error" role="alert">The graph could not be laid out: {result.error}</div>;

  return (
    <div class="graph-wrap">
      <svg
        class="graph"
        width={Math.ceil(result.width)}
        height={Math.ceil(result.height)}
        viewBox={`0 0 ${Math.ceil(result.width)} ${Math.ceil(result.height)}`}
        role="group"
        aria-label={`Graph of ${props.dagId}${props.run ? `, states in run ${props.run.dag_run_id}` : ''}`}
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="edge-head" />
          </marker>
        </defs>
        {result.edges.map((e) => (
          <path key={`${e.from}->${e.to}`} class="edge" d={pathOf(e.points)} marker-end="url(#arrow)" />
        ))}
        {props.tasks.map((t) => {
          const n = result.nodes[t.task_id];
          if (!n) return null;
          const ti = props.run?.task_instances?.[t.task_id] ?? null;
          const state = ti?.state ?? null;
          const look = stateLook(state);
          const svc = t.service ? props.services?.[t.service] ?? props.services?.[t.service.toUpperCase()] : undefined;
          const svcStatus = svc ? (svc.total === 0 || svc.up === 0 ? 'DOWN' : svc.up < svc.total ? 'PARTIAL' : 'UP') : 'UNKNOWN';
          const x = n.x - n.width / 2;
          const y = n.y - n.height / 2;
          const label =
            `${t.task_id}: ${look.label}, ${kindLine(t)}` +
            (t.service ? `, calls ${t.service}` + (svc ? `, ${svc.up} of ${svc.total} instances UP` : '') : '') +
            (ti?.served_by ? `, served by ${ti.served_by}` : '');
          const body = (
            <g class={`node st-${stateKey(state)}`} data-task={t.task_id} data-state={stateKey(state)}>
              <title>{label}</title>
              <rect class="node-box" x={x} y={y} width={n.width} height={n.height} rx="8" />
              <rect class="node-stripe" x={x} y={y} width="8" height={n.height} rx="3" />
              <text class="node-title" x={x + 18} y={y + 22}>{truncate(t.task_id, n.width - 24)}</text>
              <text class="node-state" x={x + n.width - 10} y={y + 22} text-anchor="end" aria-hidden="true">{look.glyph}</text>
              <text class="node-kind" x={x + 18} y={y + 42}>{truncate(kindLine(t), n.width)}</text>
              {t.service && (
                <text class="node-svc" x={x + 18} y={y + 61}>
                  <tspan class={`svc-glyph is-${svcStatus}`}>{svcStatus === 'UP' ? '▲' : svcStatus === 'DOWN' ? '▼' : svcStatus === 'PARTIAL' ? '◐' : '?'}</tspan>
                  <tspan> {truncate(t.service, n.width - 60)} </tspan>
                  <tspan class="svc-count">{svc ? `${svc.up}/${svc.total} UP` : '…'}</tspan>
                </text>
              )}
            </g>
          );
          return props.run ? (
            <a
              key={t.task_id}
              href={href(['dags', props.dagId, 'runs', props.run.dag_run_id, 'tasks', t.task_id], ti?.try_number ? { try: ti.try_number } : undefined)}
              aria-label={label}
            >
              {body}
            </a>
          ) : (
            <g key={t.task_id} role="img" aria-label={label}>{body}</g>
          );
        })}
      </svg>
    </div>
  );
}
