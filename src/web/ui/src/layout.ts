// The main thread's side of the layout worker: one worker, requests answered in order by id.
import type { LayoutRequest, LayoutResult } from './layout_types';

let worker: Worker | null = null;
let nextId = 1;
const waiting = new Map<number, (r: LayoutResult) => void>();

function getWorker(): Worker {
  if (worker) return worker;
  worker = new Worker(LAYOUT_WORKER_URL);
  worker.onmessage = (ev: MessageEvent<LayoutResult>) => {
    const done = waiting.get(ev.data.id);
    waiting.delete(ev.data.id);
    done?.(ev.data);
  };
  worker.onerror = (ev) => {
    const error = ev.message || 'the layout worker failed';
    for (const [id, done] of waiting) done({ id, width: 0, height: 0, nodes: {}, edges: [], error });
    waiting.clear();
    worker?.terminate();
    worker = null;
  };
  return worker;
}

export function layoutGraph(req: Omit<LayoutRequest, 'id'>): Promise<LayoutResult> {
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    try {
      getWorker().postMessage({ ...req, id });
    } catch (e) {
      waiting.delete(id);
      resolve({ id, width: 0, height: 0, nodes: {}, edges: [], error: String(e) });
    }
  });
}
