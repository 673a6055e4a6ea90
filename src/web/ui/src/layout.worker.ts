// Lays out a DAG's graph with dagre, off the main thread. Message in: LayoutRequest; out:
// LayoutResult with the same id.
import { graphlib, layout } from '@dagrejs/dagre';
import type { LayoutRequest, LayoutResult } from './layout_types';

const scope = self as unknown as {
  onmessage: ((ev: MessageEvent<LayoutRequest>) => void) | null;
  postMessage: (m: LayoutResult) => void;
};

scope.onmessage = (ev) => {
  const req = ev.data;
  try {
    const g = new graphlib.Graph();
    g.setGraph({ rankdir: req.rankdir, nodesep: 28, ranksep: 56, edgesep: 16, marginx: 12, marginy: 12 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of req.nodes) g.setNode(n.id, { width: n.width, height: n.height });
    for (const e of req.edges) if (g.hasNode(e.from) && g.hasNode(e.to)) g.setEdge(e.from, e.to);
    layout(g);
    const nodes: LayoutResult['nodes'] = {};
    for (const id of g.nodes()) {
      const n = g.node(id) as { x: number; y: number; width: number; height: number };
      nodes[id] = { x: n.x, y: n.y, width: n.width, height: n.height };
    }
    const edges = g.edges().map((e) => {
      const data = g.edge(e) as { points?: { x: number; y: number }[] };
      return { from: e.v, to: e.w, points: data.points ?? [] };
    });
    const graph = g.graph() as { width?: number; height?: number };
    scope.postMessage({ id: req.id, width: graph.width ?? 0, height: graph.height ?? 0, nodes, edges });
  } catch (e) {
    scope.postMessage({ id: req.id, width: 0, height: 0, nodes: {}, edges: [], error: String(e) });
  }
};
