// Task and run states, and registry instance statuses: colour, glyph and words (CONSOLE.md §3.2).
// Colour is never alone: every mark carries its glyph, and its state in words for tooltips and
// screen readers. Colours themselves live in styles.css (classes st-<state>, is-<status>).

export interface StateLook {
  glyph: string;
  label: string;
}

const STATES: Record<string, StateLook> = {
  success: { glyph: '✓', label: 'success' },
  running: { glyph: '▶', label: 'running' },
  failed: { glyph: '✕', label: 'failed' },
  upstream_failed: { glyph: '⤒', label: 'upstream failed' },
  up_for_retry: { glyph: '↻', label: 'up for retry' },
  up_for_reschedule: { glyph: '⧗', label: 'up for reschedule' },
  queued: { glyph: '⋯', label: 'queued' },
  scheduled: { glyph: '◷', label: 'scheduled' },
  skipped: { glyph: '⤼', label: 'skipped' },
  deferred: { glyph: '⏸', label: 'deferred' },
  removed: { glyph: '–', label: 'removed' },
  restarting: { glyph: '⟲', label: 'restarting' },
  none: { glyph: '○', label: 'no status' },
};

export const STATE_ORDER = [
  'success', 'running', 'failed', 'upstream_failed', 'up_for_retry', 'up_for_reschedule',
  'queued', 'scheduled', 'skipped', 'deferred', 'removed', 'restarting', 'none',
];

export const stateKey = (s: string | null | undefined) => (s && STATES[s] ? s : 'none');
export const stateLook = (s: string | null | undefined) => STATES[stateKey(s)];
export const isActive = (s: string | null | undefined) =>
  s === 'queued' || s === 'running' || s === 'scheduled' || s === 'up_for_retry' ||
  s === 'up_for_reschedule' || s === 'restarting' || s === 'deferred';
export const isFinishedRun = (s: string | null | undefined) => s === 'success' || s === 'failed';

const STATUSES: Record<string, StateLook> = {
  UP: { glyph: '▲', label: 'UP' },
  DOWN: { glyph: '▼', label: 'DOWN' },
  STARTING: { glyph: '◷', label: 'STARTING' },
  OUT_OF_SERVICE: { glyph: '⊘', label: 'OUT OF SERVICE' },
  PARTIAL: { glyph: '◐', label: 'some instances UP' },
  UNKNOWN: { glyph: '?', label: 'UNKNOWN' },
};
export const statusKey = (s: string | null | undefined) => (s && STATUSES[s] ? s : 'UNKNOWN');
export const statusLook = (s: string | null | undefined) => STATUSES[statusKey(s)];
