// Times in the user's timezone (ISO on hover), durations and schedules in words.
import type { Schedule } from './types';

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const today = new Date();
  return d.toDateString() === today.toDateString() ? timeOnly.format(d) : dateTime.format(d);
}

export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m} min ${s} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

export function secondsBetween(a: string | null | undefined, b: string | null | undefined): number | null {
  if (!a) return null;
  const start = Date.parse(a);
  const end = b ? Date.parse(b) : Date.now();
  if (Number.isNaN(start) || Number.isNaN(end)) return null;
  return Math.max(0, (end - start) / 1000);
}

export function fmtAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  const future = s < 0;
  const a = Math.abs(s);
  const words = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`;
  return future ? `in ${words}` : `${words} ago`;
}

export function fmtSchedule(s: Schedule | undefined): string {
  if (!s) return 'none (manual)';
  if (s.__type === 'CronExpression') return (s as { value: string }).value;
  if (s.__type === 'TimeDelta') {
    const t = s as { days: number; seconds: number };
    const parts: string[] = [];
    if (t.days) parts.push(`${t.days} d`);
    const h = Math.floor(t.seconds / 3600);
    const m = Math.floor((t.seconds % 3600) / 60);
    const sec = t.seconds % 60;
    if (h) parts.push(`${h} h`);
    if (m) parts.push(`${m} min`);
    if (sec) parts.push(`${sec} s`);
    return 'every ' + (parts.join(' ') || '0 s');
  }
  return 'value' in s && s.value ? String(s.value) : s.__type;
}

export function pretty(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}
