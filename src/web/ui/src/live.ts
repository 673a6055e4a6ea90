// Live data by polling: every second while something shown is queued or running (or the caller
// says so), every 10 s otherwise, nothing while the tab is hidden (and at once when it shows
// again). `refresh()` re-fetches immediately, e.g. after an action.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

export const FAST_MS = 1000;
export const SLOW_MS = 10000;

export interface Live<T> {
  data: T | undefined;
  error: unknown;
  updatedAt: number | null;
  refresh: () => void;
}

export function useLive<T>(
  fetcher: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  fast: boolean | ((data: T) => boolean) = false,
): Live<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [updatedAt, setUpdatedAt] = useState<number | null>(null);
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const fastRef = useRef(fast);
  fastRef.current = fast;
  const kick = useRef<() => void>(() => {});

  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let controller: AbortController | null = null;
    let last: T | undefined;
    setData(undefined);
    setError(null);
    setUpdatedAt(null);

    const schedule = () => {
      clearTimeout(timer);
      if (!alive || document.hidden) return;
      const f = fastRef.current;
      const quick = typeof f === 'function' ? last !== undefined && f(last) : f;
      timer = setTimeout(run, quick ? FAST_MS : SLOW_MS);
    };
    const run = async () => {
      clearTimeout(timer);
      controller?.abort();
      const mine = new AbortController();
      controller = mine;
      try {
        const value = await fetcherRef.current(mine.signal);
        if (!alive || controller !== mine) return;
        last = value;
        setData(value);
        setError(null);
        setUpdatedAt(Date.now());
      } catch (e) {
        if (!alive || controller !== mine || (e as Error).name === 'AbortError') return;
        setError(e);
        if (e instanceof ApiError && e.status === 401) return;
      }
      if (controller === mine) controller = null;
      schedule();
    };
    const onVisibility = () => {
      if (document.hidden) clearTimeout(timer);
      else run();
    };
    kick.current = run;
    document.addEventListener('visibilitychange', onVisibility);
    run();
    return () => {
      alive = false;
      clearTimeout(timer);
      controller?.abort();
      document.removeEventListener('visibilitychange', onVisibility);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  const refresh = useCallback(() => kick.current(), []);
  return { data, error, updatedAt, refresh };
}

/** The current time, re-rendered every `ms` (never when `ms` is 0). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (ms <= 0) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
