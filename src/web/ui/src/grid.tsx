// The grid: recent runs (columns, oldest left) × tasks (rows), each cell the task instance's
// state. An ARIA grid: one tab stop, arrow keys move, Home/End jump, Enter opens (a run header
// selects that run; a cell opens the task's try page).
import { useEffect, useRef, useState } from 'preact/hooks';
import { fmtDuration, secondsBetween } from './format';
import { kindLine } from './graph';
import { PHONE, useMedia } from './hooks';
import { href, navigate } from './router';
import { stateKey, stateLook } from './states';
import type { Grid } from './types';

export function GridView(props: { grid: Grid; selectedRun: string | null; onSelectRun: (runId: string) => void }) {
  const phone = useMedia(PHONE);
  const runs = [...props.grid.runs].slice(0, phone ? 5 : props.grid.runs.length).reverse();
  const tasks = props.grid.tasks;
  const [pos, setPos] = useState<[number, number]>([1, runs.length - 1]);
  const tableRef = useRef<HTMLTableElement>(null);
  const focusing = useRef(false);

  const rows = tasks.length + 1;
  const cols = runs.length;
  const r = Math.min(pos[0], rows - 1);
  const c = Math.max(0, Math.min(pos[1], cols - 1));

  useEffect(() => {
    if (!focusing.current) return;
    focusing.current = false;
    const el = tableRef.current?.querySelector<HTMLElement>(`[data-pos="${r}:${c}"]`);
    el?.focus();
  });

  if (runs.length === 0) {
    return <p class="empty">No run yet. Trigger the DAG to see its tasks run here.</p>;
  }
  const maxDur = Math.max(1, ...runs.map((run) => secondsBetween(run.start_date, run.end_date) ?? 0));

  const open = (row: number, col: number) => {
    const run = runs[col];
    if (row === 0) {
      props.onSelectRun(run.dag_run_id);
      return;
    }
    const task = tasks[row - 1];
    const ti = run.task_instances?.[task.task_id];
    navigate(href(['dags', props.grid.dag_id, 'runs', run.dag_run_id, 'tasks', task.task_id], ti?.try_number ? { try: ti.try_number } : undefined));
  };

  const onKeyDown = (ev: KeyboardEvent) => {
    let nr = r;
    let nc = c;
    switch (ev.key) {
      case 'ArrowUp': nr = Math.max(0, r - 1); break;
      case 'ArrowDown': nr = Math.min(rows - 1, r + 1); break;
      case 'ArrowLeft': nc = Math.max(0, c - 1); break;
      case 'ArrowRight': nc = Math.min(cols - 1, c + 1); break;
      case 'Home': nc = 0; if (ev.ctrlKey) nr = 0; break;
      case 'End': nc = cols - 1; if (ev.ctrlKey) nr = rows - 1; break;
      case 'Enter':
      case ' ':
        ev.preventDefault();
        open(r, c);
        return;
      default:
        return;
    }
    ev.preventDefault();
    focusing.current = true;
    setPos([nr, nc]);
  };

  const tab = (row: number, col: number) => (row === r && col === c ? 0 : -1);

  return (
    <div class="grid-wrap">
      <table
        ref={tableRef}
        class="dag-grid"
        role="grid"
        aria-label={`Task states of the last ${runs.length} runs, oldest first. Arrow keys move, Enter opens.`}
        onKeyDown={onKeyDown}
      >
        <thead>
          <tr role="row">
            <th role="columnheader" scope="col" class="grid-corner">
              <span class="small muted">Task \ Run</span>
            </th>
            {runs.map((run, col) => {
              const d = secondsBetween(run.start_date, run.end_date);
              const h = d === null ? 4 : Math.max(4, Math.round((d / maxDur) * 44));
              const selected = run.dag_run_id === props.selectedRun;
              const label = `Run ${run.dag_run_id}: ${stateLook(run.state).label}${d !== null ? `, ${fmtDuration(d)}` : ''}, ${run.run_type}${selected ? ', selected' : ''}`;
              return (
                <th
                  key={run.dag_run_id}
                  role="columnheader"
                  scope="col"
                  class={`grid-run ${selected ? 'selected' : ''}`}
                  aria-selected={selected}
                >
                  <span
                    class="grid-run-btn"
                    role="button"
                    tabIndex={tab(0, col)}
                    data-pos={`0:${col}`}
                    aria-label={label}
                    title={label}
                    onClick={() => {
                      setPos([0, col]);
                      props.onSelectRun(run.dag_run_id);
                    }}
                    onFocus={() => (r !== 0 || c !== col) && setPos([0, col])}
                  >
                    <span class={`run-bar st-${stateKey(run.state)}`} style={{ height: `${h}px` }} />
                    <span class="run-type" aria-hidden="true">{run.run_type === 'manual' ? 'M' : run.run_type === 'scheduled' ? 'S' : run.run_type[0]?.toUpperCase()}</span>
                  </span>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {tasks.map((task, i) => (
            <tr key={task.task_id} role="row">
              <th role="rowheader" scope="row" class="grid-task">
                <span class="grid-task-id">{task.task_id}</span>
                <span class="grid-task-kind">{kindLine(task)}</span>
              </th>
              {runs.map((run, col) => {
                const ti = run.task_instances?.[task.task_id];
                const state = ti?.state ?? null;
                const look = stateLook(state);
                const label = `${task.task_id} in ${run.dag_run_id}: ${look.label}${ti?.try_number && ti.try_number > 1 ? `, try ${ti.try_number}` : ''}${ti?.duration != null ? `, ${fmtDuration(ti.duration)}` : ''}`;
                return (
                  <td
                    key={run.dag_run_id}
                    role="gridcell"
                    class={`grid-cell ${run.dag_run_id === props.selectedRun ? 'selected' : ''}`}
                    tabIndex={tab(i + 1, col)}
                    data-pos={`${i + 1}:${col}`}
                    data-task={task.task_id}
                    data-run={run.dag_run_id}
                    data-state={stateKey(state)}
                    aria-label={label}
                    title={label}
                    onClick={() => {
                      setPos([i + 1, col]);
                      open(i + 1, col);
                    }}
                    onFocus={() => (r !== i + 1 || c !== col) && setPos([i + 1, col])}
                  >
                    <span class={`cell-mark st-${stateKey(state)}`} aria-hidden="true">{look.glyph}</span>
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
