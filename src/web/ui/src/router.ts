// A small client-side router: the location is the state. Links are real <a href> elements (so
// they open in new tabs and are keyboard reachable); plain clicks are turned into pushState.
import { useEffect, useState } from 'preact/hooks';

type Listener = () => void;
const listeners = new Set<Listener>();

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.scrollTo(0, 0);
  listeners.forEach((l) => l());
}

window.addEventListener('popstate', () => listeners.forEach((l) => l()));

document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = (ev.target as Element | null)?.closest?.('a');
  if (!a || a.target || a.hasAttribute('download')) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith('/') || href.startsWith('//') || href.startsWith('/api/')) return;
  ev.preventDefault();
  navigate(href);
});

export interface Location {
  path: string;
  segments: string[];
  query: URLSearchParams;
}

function current(): Location {
  const segments = location.pathname
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { path: location.pathname, segments, query: new URLSearchParams(location.search) };
}

export function useLocation(): Location {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return current();
}

/** Builds a console path, percent-encoding each segment, with an optional query. */
export function href(segments: (string | number)[], query?: Record<string, string | number | null | undefined>): string {
  let out = '/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
    const s = q.toString();
    if (s) out += '?' + s;
  }
  return out;
}

/** The current path and query, for `/login?next=`. */
export const here = () => location.pathname + location.search;
