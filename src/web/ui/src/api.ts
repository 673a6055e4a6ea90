// Every call the console makes to the server goes through `api()`: same-origin cookie, the
// header that tells the server not to ask the browser for Basic credentials, the CSRF token on
// every state-changing call, and problem+json errors turned into `ApiError`.
import type { Session } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly retryAfter: number | null = null,
  ) {
    super(detail || title || `HTTP ${status}`);
  }
}

let csrfToken = '';
let unauthorizedHandler: () => void = () => {};

export function setCsrfToken(session: Session | null): void {
  csrfToken = session ? session.csrf_token : '';
}

/** Called when any call (but the login itself) answers 401: the session is gone. */
export function onUnauthorized(handler: () => void): void {
  unauthorizedHandler = handler;
}

/** Builds an API path from literal parts and values, percent-encoding each value as a segment. */
export function p(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  let out = strings[0];
  values.forEach((v, i) => {
    out += encodeURIComponent(String(v)) + strings[i + 1];
  });
  return out;
}

export interface CallOptions {
  /** Accept header; JSON by default. */
  accept?: string;
  /** Do not treat a 401 as a lost session (the login form does its own). */
  own401?: boolean;
  signal?: AbortSignal;
}

const mutating = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

async function send(method: string, url: string, body: unknown, opts: CallOptions): Promise<Response> {
  const headers: Record<string, string> = {
    'X-Requested-With': 'orquestra-console',
    Accept: opts.accept ?? 'application/json',
  };
  if (mutating.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch('/api/v1' + url, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts.signal,
      cache: 'no-store',
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'Network error', 'The server could not be reached.');
  }
  if (res.ok) return res;
  let title = res.statusText;
  let detail = '';
  try {
    const text = await res.text();
    try {
      const problem = JSON.parse(text) as { title?: string; detail?: string };
      title = problem.title ?? title;
      detail = problem.detail ?? '';
    } catch {
      detail = text.slice(0, 500);
    }
  } catch {
    /* body unreadable: keep the status line */
  }
  const retry = res.headers.get('Retry-After');
  const error = new ApiError(res.status, title, detail, retry === null ? null : Number(retry));
  if (res.status === 401 && !opts.own401) unauthorizedHandler();
  throw error;
}

export async function api<T>(method: string, url: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
  const res = await send(method, url, body, opts);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('Content-Type') ?? '';
  if (type.includes('json')) return (await res.json()) as T;
  return (await res.text()) as unknown as T;
}

export const get = <T>(url: string, opts?: CallOptions) => api<T>('GET', url, undefined, opts);

/** The message to show a person for a failed call. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 403) return 'Your role may not do this' + (e.detail ? ` (${e.detail})` : '.');
    if (e.status === 0) return e.detail;
    return e.detail || `${e.status} ${e.title}`;
  }
  return e instanceof Error ? e.message : String(e);
}

export const canEdit = (s: Session | null) => !!s && ['User', 'Op', 'Admin'].includes(s.role);
export const canOperate = (s: Session | null) => !!s && ['Op', 'Admin'].includes(s.role);
