// Small shared pieces: state marks, times, the "updated N s ago" marker, dialogs, messages.
import type { ComponentChildren, HTMLAttributes } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from './api';
import { fmtAgo, fmtTime } from './format';
import { useNow } from './live';
import { stateKey, stateLook, statusKey, statusLook } from './states';

/** A state mark: coloured glyph, the state in words for tooltips and screen readers. */
export function StateMark(props: { state: string | null | undefined; text?: boolean; extra?: string; size?: 'sm' | 'md' }) {
  const look = stateLook(props.state);
  const label = props.extra ? `${look.label} — ${props.extra}` : look.label;
  if (props.text) {
    return (
      <span class={`state-pill st-${stateKey(props.state)}`} title={label}>
        <span class="glyph" aria-hidden="true">{look.glyph}</span>
        <span>{look.label}</span>
      </span>
    );
  }
  return (
    <span class={`state-dot st-${stateKey(props.state)} ${props.size === 'md' ? 'md' : ''}`} role="img" title={label} aria-label={label}>
      {look.glyph}
    </span>
  );
}

export function StatusMark(props: { status: string | null | undefined; text?: boolean }) {
  const look = statusLook(props.status);
  return (
    <span class={`status-pill is-${statusKey(props.status)}`} title={look.label} role={props.text ? undefined : 'img'} aria-label={props.text ? undefined : look.label}>
      <span class="glyph" aria-hidden="true">{look.glyph}</span>
      {props.text !== false && <span>{look.label}</span>}
    </span>
  );
}

/** Health of a service as the DAG pages show it: dot + "up/total". */
export function ServiceHealthMark(props: { name: string; up: number; total: number; link?: boolean; hideName?: boolean }) {
  const status = props.total === 0 ? 'DOWN' : props.up === 0 ? 'DOWN' : props.up < props.total ? 'PARTIAL' : 'UP';
  const words = props.total === 0 ? 'not registered' : `${props.up} of ${props.total} instances UP`;
  const body = (
    <>
      <span class={`health-dot is-${status}`} aria-hidden="true">{statusLook(status).glyph}</span>
      {!props.hideName && <span class="svc-name">{props.name}</span>}
      <span class="svc-count">{props.up}/{props.total}{props.hideName ? ' UP' : ''}</span>
    </>
  );
  return props.link === false ? (
    <span class="svc-health" title={`${props.name}: ${words}`}>{body}</span>
  ) : (
    <a class="svc-health" href={`/services/${encodeURIComponent(props.name)}`} title={`${props.name}: ${words}`} aria-label={`${props.name}: ${words}`}>
      {body}
    </a>
  );
}

export function Time(props: { iso: string | null | undefined; ago?: boolean }) {
  const now = useNow(props.ago ? 1000 : 0);
  if (!props.iso) return <span class="muted">—</span>;
  return (
    <time dateTime={props.iso} title={props.iso}>
      {props.ago ? fmtAgo(props.iso, now) : fmtTime(props.iso)}
    </time>
  );
}

export function Updated(props: { at: number | null; error?: unknown }) {
  const now = useNow(1000);
  if (props.at === null && !props.error) return <span class="updated muted">loading…</span>;
  const ago = props.at === null ? null : Math.max(0, Math.round((now - props.at) / 1000));
  return (
    <span class={`updated ${props.error ? 'stale' : ''}`} title={props.error ? describeError(props.error) : undefined}>
      {props.error ? '⚠ update failed' : ''}
      {props.error && ago !== null ? ' · ' : ''}
      {ago !== null ? `updated ${ago} s ago` : ''}
    </span>
  );
}

export function ErrorBox(props: { error: unknown; title?: string }) {
  if (!props.error) return null;
  return (
    <div class="alert alert-error" role="alert">
      {props.title && <strong>{props.title} </strong>}
      {describeError(props.error)}
    </div>
  );
}

export function Loading(props: { what?: string }) {
  return <p class="muted loading" role="status">Loading {props.what ?? ''}…</p>;
}

/**
 * A modal dialog on the native <dialog>: the rest of the page is inert while it is open (focus is
 * trapped), Escape cancels, and focus returns to what had it before.
 */
export function Dialog(props: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  actions: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const returnTo = useRef<Element | null>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) {
      returnTo.current = document.activeElement;
      d.showModal();
    } else if (!props.open && d.open) {
      d.close();
    }
  }, [props.open]);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const onClose = () => {
      const el = returnTo.current as HTMLElement | null;
      if (el && typeof el.focus === 'function') el.focus();
      props.onClose();
    };
    d.addEventListener('close', onClose);
    return () => d.removeEventListener('close', onClose);
  });
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="dialog-title">
      {props.open && (
        <form method="dialog" class="dialog-body" onSubmit={(e) => e.preventDefault()}>
          <h2 id="dialog-title">{props.title}</h2>
          <div class="dialog-content">{props.children}</div>
          <div class="dialog-actions">{props.actions}</div>
        </form>
      )}
    </dialog>
  );
}

/** Confirms an action in a dialog, runs it, shows its error if it fails. */
export function useConfirm() {
  const [pending, setPending] = useState<null | {
    title: string;
    body: ComponentChildren;
    confirm: string;
    danger?: boolean;
    run: () => Promise<unknown>;
  }>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const ask = (p: NonNullable<typeof pending>) => {
    setError(null);
    setPending(p);
  };
  const close = () => {
    setPending(null);
    setBusy(false);
  };
  const dialog = (
    <Dialog
      open={pending !== null}
      title={pending?.title ?? ''}
      onClose={close}
      actions={
        <>
          <button type="button" class="btn" onClick={close}>Cancel</button>
          <button
            type="button"
            class={`btn ${pending?.danger ? 'btn-danger' : 'btn-primary'}`}
            disabled={busy}
            onClick={async () => {
              if (!pending) return;
              setBusy(true);
              setError(null);
              try {
                await pending.run();
                close();
              } catch (e) {
                setError(e);
                setBusy(false);
              }
            }}
          >
            {busy ? 'Working…' : pending?.confirm}
          </button>
        </>
      }
    >
      {pending?.body}
      <ErrorBox error={error} />
    </Dialog>
  );
  return { ask, dialog };
}

export function Switch(props: {
  checked: boolean;
  onChange: (v: boolean) => void;
  label: string;
  disabled?: boolean;
  id?: string;
  showLabel?: boolean;
  describedBy?: string;
}) {
  return (
    <label class={`switch ${props.disabled ? 'disabled' : ''}`} title={props.label}>
      <input
        type="checkbox"
        role="switch"
        id={props.id}
        checked={props.checked}
        disabled={props.disabled}
        aria-label={props.showLabel ? undefined : props.label}
        aria-describedby={props.describedBy}
        onChange={(e) => props.onChange((e.currentTarget as HTMLInputElement).checked)}
      />
      <span class="switch-track" aria-hidden="true"><span class="switch-thumb" /></span>
      {props.showLabel && <span>{props.label}</span>}
    </label>
  );
}

export function PageHeader(props: { title: ComponentChildren; sub?: ComponentChildren; crumbs?: { href: string; label: string }[]; actions?: ComponentChildren }) {
  return (
    <header class="page-header">
      {props.crumbs && (
        <nav class="crumbs" aria-label="Breadcrumb">
          <ol>
            {props.crumbs.map((c) => (
              <li key={c.href}><a href={c.href}>{c.label}</a></li>
            ))}
          </ol>
        </nav>
      )}
      <div class="page-title-row">
        <h1>{props.title}</h1>
        {props.actions && <div class="page-actions">{props.actions}</div>}
      </div>
      {props.sub && <div class="page-sub">{props.sub}</div>}
    </header>
  );
}

/** Pre-formatted text from the server (JSON, logs, code): always rendered as text. */
export function Code(props: { text: string; class?: string } & HTMLAttributes<HTMLPreElement>) {
  const { text, class: cls, ...rest } = props;
  return <pre class={`code ${cls ?? ''}`} {...rest}>{text}</pre>;
}

let announceTimer: ReturnType<typeof setTimeout> | undefined;
let lastAnnounced = 0;
/** Status changes for screen readers, at most one message every 5 s. */
export function announce(message: string): void {
  let el = document.getElementById('live-region');
  if (!el) {
    el = document.createElement('div');
    el.id = 'live-region';
    el.className = 'sr-only';
    el.setAttribute('aria-live', 'polite');
    el.setAttribute('role', 'status');
    document.body.appendChild(el);
  }
  const region = el;
  const wait = Math.max(0, lastAnnounced + 5000 - Date.now());
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => {
    lastAnnounced = Date.now();
    region.textContent = message;
  }, wait);
}

/** What an action would touch, read from the server's dry run when the dialog opens. */
export function DryRunList(props: { load: () => Promise<{ task_id: string; state?: string | null }[]>; verb: string; deps?: unknown[] }) {
  const [items, setItems] = useState<{ task_id: string; state?: string | null }[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let alive = true;
    setItems(null);
    setError(null);
    props.load().then((x) => alive && setItems(x)).catch((e) => alive && setError(e));
    return () => {
      alive = false;
    };
  }, props.deps ?? []);
  if (error) return <p class="small muted">Could not list what it affects: {describeError(error)}</p>;
  if (!items) return <p class="small muted" role="status">Listing what it affects…</p>;
  if (items.length === 0) return <p class="small">Nothing would be {props.verb}.</p>;
  return (
    <div class="dry-run">
      <p class="small">{items.length} task instance{items.length === 1 ? '' : 's'} will be {props.verb}:</p>
      <ul class="dry-run-list">
        {items.map((t) => (
          <li key={t.task_id}>
            {t.state !== undefined && <StateMark state={t.state} />} <code>{t.task_id}</code>
          </li>
        ))}
      </ul>
    </div>
  );
}
