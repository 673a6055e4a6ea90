export interface LayoutRequest {
  id: number;
  rankdir: 'LR' | 'TB';
  nodes: { id: string; width: number; height: number }[];
  edges: { from: string; to: string }[];
}

export interface LayoutResult {
  id: number;
  width: number;
  height: number;
  nodes: Record<string, { x: number; y: number; width: number; height: number }>;
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
  error?: string;
}
