// A task try's log: read in chunks with the continuation token, appended (never re-read), and
// followed every second while the try runs. Always rendered as text.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, describeError, get, p } from './api';
import { FAST_MS } from './live';

interface LogChunk {
  content: string;
  continuation_token: string | null;
}

export function LogView(props: { dagId: string; runId: string; taskId: string; tryNumber: number; live: boolean }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);
  const [wrap, setWrap] = useState(true);
  const [follow, setFollow] = useState(true);
  const [filter, setFilter] = useState('');
  const liveRef = useRef(props.live);
  liveRef.current = props.live;
  const kick = useRef<() => void>(() => {});
  const boxRef = useRef<HTMLPreElement>(null);

  useEffect(() => {
    let alive = true;
    let token: string | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let busy = false;
    setText('');
    setError(null);
    setLoaded(false);
    const url = p`/dags/${props.dagId}/dagRuns/${props.runId}/taskInstances/${props.taskId}/logs/${props.tryNumber}`;
    const step = async () => {
      if (!alive || busy) return;
      busy = true;
      clearTimeout(timer);
      let more = false;
      try {
        const chunk = await get<LogChunk>(token ? `${url}?token=${encodeURIComponent(token)}` : url);
        if (!alive) return;
        if (chunk.content) setText((t) => t + chunk.content);
        if (chunk.continuation_token) token = chunk.continuation_token;
        more = chunk.content.length > 0;
        setLoaded(true);
        setError(null);
      } catch (e) {
        if (!alive) return;
        if (e instanceof ApiError && e.status === 404) setLoaded(true);
        setError(e);
      } finally {
        busy = false;
      }
      if (!alive) return;
      // A full chunk may have more behind it: read on at once; else follow while the try runs.
      if (more) timer = setTimeout(step, 0);
      else if (liveRef.current && !document.hidden) timer = setTimeout(step, FAST_MS);
    };
    kick.current = step;
    const onVisibility = () => {
      if (!document.hidden && liveRef.current) step();
    };
    document.addEventListener('visibilitychange', onVisibility);
    step();
    return () => {
      alive = false;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [props.dagId, props.runId, props.taskId, props.tryNumber]);

  // When the try stops running, read the tail once more; when it starts (cleared), follow again.
  useEffect(() => {
    kick.current();
  }, [props.live]);

  useEffect(() => {
    const box = boxRef.current;
    if (follow && box) box.scrollTop = box.scrollHeight;
  }, [text, follow]);

  const shown = useMemo(() => {
    if (!filter) return text;
    const f = filter.toLowerCase();
    return text.split('\n').filter((l) => l.toLowerCase().includes(f)).join('\n');
  }, [text, filter]);

  const download = () => {
    const blob = new Blob([text], { type: 'text/plain;charset=utf-8' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${props.dagId}__${props.runId}__${props.taskId}__${props.tryNumber}.log`.replace(/[^A-Za-z0-9_.+-]/g, '_');
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };

  const lines = text ? text.split('\n').length - (text.endsWith('\n') ? 1 : 0) : 0;
  return (
    <div class="log-view">
      <div class="log-toolbar">
        <label class="sr-only" for="log-filter">Show only lines containing</label>
        <input id="log-filter" type="search" placeholder="Filter lines" value={filter} onInput={(e) => setFilter((e.currentTarget as HTMLInputElement).value)} />
        <label class="check"><input type="checkbox" checked={wrap} onChange={(e) => setWrap((e.currentTarget as HTMLInputElement).checked)} /> Wrap</label>
        <label class="check"><input type="checkbox" checked={follow} onChange={(e) => setFollow((e.currentTarget as HTMLInputElement).checked)} /> Follow</label>
        <button type="button" class="btn btn-sm" onClick={download} disabled={!text}>Download</button>
        <span class="small muted log-status" aria-live="off">
          {props.live ? <span class="live-dot" aria-hidden="true">●</span> : null}
          {props.live ? ' following · ' : ''}
          {lines} line{lines === 1 ? '' : 's'}
        </span>
      </div>
      {error && !(props.live && error instanceof ApiError && error.status === 404) ? <p class="alert alert-error" role="alert">{error instanceof ApiError && error.status === 404 ? 'No log for this try.' : describeError(error)}</p> : null}
      <pre ref={boxRef} class={`log ${wrap ? 'wrap' : ''}`} role="log" aria-label={`Log of ${props.taskId}, try ${props.tryNumber}`} tabIndex={0}>
        {shown}
        {!text && (!error || (props.live && error instanceof ApiError && error.status === 404)) && (loaded ? (props.live ? <span class="muted">Waiting for the first line…</span> : <span class="muted">The log is empty.</span>) : <span class="muted">Loading the log…</span>)}
      </pre>
    </div>
  );
}
