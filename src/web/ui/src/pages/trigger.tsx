// The trigger form, generated from the DAG's params (JSON Schema). The server is the only judge
// of the values: its 400 detail is shown beside the param it names.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, api, canEdit, describeError, get, p } from '../api';
import { ErrorBox, Loading, PageHeader, ServiceHealthMark, Switch } from '../components';
import { useTitle } from '../hooks';
import { href, navigate } from '../router';
import type { DagDetail, DagRun, JsonSchema, ParamSpec, Session, UiDags } from '../types';
import { NotFoundPage } from './not_found';

type Widget = 'integer' | 'number' | 'enum' | 'boolean' | 'string' | 'json';

interface Field {
  name: string;
  spec: ParamSpec;
  schema: JsonSchema;
  widget: Widget;
  required: boolean;
  label: string;
  help: string;
}

function typesOf(s: JsonSchema): string[] {
  return s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
}

function fieldOf(name: string, spec: ParamSpec): Field {
  const schema = spec.schema ?? {};
  const types = typesOf(schema).filter((t) => t !== 'null');
  const value = spec.value ?? schema.default;
  let widget: Widget;
  if (Array.isArray(schema.enum)) widget = 'enum';
  else if (types[0] === 'integer') widget = 'integer';
  else if (types[0] === 'number') widget = 'number';
  else if (types[0] === 'boolean') widget = 'boolean';
  else if (types[0] === 'string') widget = 'string';
  else if (types[0] === 'object' || types[0] === 'array') widget = 'json';
  else if (typeof value === 'boolean') widget = 'boolean';
  else if (typeof value === 'number') widget = Number.isInteger(value) ? 'integer' : 'number';
  else if (typeof value === 'string' || value === undefined || value === null) widget = 'string';
  else widget = 'json';
  const required = types.length > 0 && !typesOf(schema).includes('null');
  return {
    name,
    spec,
    schema,
    widget,
    required,
    label: typeof schema.title === 'string' && schema.title ? schema.title : name,
    help: spec.description ?? (typeof schema.description === 'string' ? schema.description : ''),
  };
}

type Raw = string | boolean;

function toRaw(f: Field, v: unknown): Raw {
  if (f.widget === 'boolean') return v === true;
  if (f.widget === 'enum') return JSON.stringify(v ?? null);
  if (f.widget === 'json') return v === undefined ? '' : JSON.stringify(v, null, 2);
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The conf value of a field; a value the form cannot read is sent as typed, for the server to judge. */
function fromRaw(f: Field, raw: Raw): { value: unknown; jsonError?: string } {
  if (f.widget === 'boolean') return { value: raw === true };
  const s = String(raw);
  if (f.widget === 'enum') {
    try {
      return { value: JSON.parse(s) };
    } catch {
      return { value: s };
    }
  }
  if (f.widget === 'integer' || f.widget === 'number') {
    if (s.trim() === '') return { value: null };
    const n = Number(s);
    return { value: Number.isFinite(n) && (f.widget === 'number' || /^-?\d+$/.test(s.trim())) ? n : s };
  }
  if (f.widget === 'json') {
    if (s.trim() === '') return { value: null };
    try {
      return { value: JSON.parse(s) };
    } catch (e) {
      return { value: undefined, jsonError: `Not valid JSON: ${(e as Error).message}` };
    }
  }
  if (s === '' && typesOf(f.schema).includes('null')) return { value: null };
  return { value: s };
}

/** Which params (or the run id) a server message names; longest names first. */
function namedFields(detail: string, names: string[]): string[] {
  const found: string[] = [];
  let rest = detail;
  for (const n of [...names].sort((a, b) => b.length - a.length)) {
    const re = new RegExp(`(^|[^A-Za-z0-9_])${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9_])`);
    if (re.test(rest)) {
      found.push(n);
      rest = rest.replace(re, '$1$2');
    }
  }
  return found;
}

export function TriggerPage(props: { session: Session; dagId: string; query: URLSearchParams }) {
  const { dagId } = props;
  useTitle(`Trigger ${dagId}`);
  const [dag, setDag] = useState<DagDetail | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [services, setServices] = useState<UiDags['dags'][number]['services'] | null>(null);

  useEffect(() => {
    let alive = true;
    get<DagDetail>(p`/dags/${dagId}/details`)
      .then((d) => alive && setDag(d))
      .catch((e) => alive && setLoadError(e));
    get<UiDags>('/ui/dags?runs=1')
      .then((u) => alive && setServices(u.dags.find((d) => d.dag_id === dagId)?.services ?? []))
      .catch(() => {});
    return () => {
      alive = false;
    };
  }, [dagId]);

  if (loadError instanceof ApiError && loadError.status === 404) return <NotFoundPage />;
  return (
    <>
      <PageHeader
        crumbs={[{ href: '/dags', label: 'DAGs' }, { href: href(['dags', dagId]), label: dagId }]}
        title={`Trigger ${dagId}`}
        sub={dag?.description ? <p class="dag-desc">{dag.description}</p> : undefined}
      />
      <ErrorBox error={loadError} />
      {!dag && !loadError && <Loading what="the DAG's params" />}
      {dag && !canEdit(props.session) && (
        <div class="alert alert-info" role="note">Your role ({props.session.role}) may look at this DAG but not trigger it.</div>
      )}
      {dag && canEdit(props.session) && <TriggerForm dag={dag} query={props.query} services={services} />}
    </>
  );
}

function TriggerForm(props: { dag: DagDetail; query: URLSearchParams; services: UiDags['dags'][number]['services'] | null }) {
  const dagId = props.dag.dag_id;
  const fields = useMemo(() => Object.entries(props.dag.params ?? {}).map(([n, s]) => fieldOf(n, s)), [props.dag]);
  const [raw, setRaw] = useState<Record<string, Raw>>(() => {
    const out: Record<string, Raw> = {};
    for (const f of fields) {
      const q = props.query.get(f.name);
      out[f.name] = q !== null ? (f.widget === 'boolean' ? q === 'true' : f.widget === 'enum' ? JSON.stringify(q) : q) : toRaw(f, f.spec.value ?? f.schema.default);
    }
    return out;
  });
  const [extra, setExtra] = useState<Record<string, unknown>>({});
  const [runId, setRunId] = useState(props.query.get('run_id') ?? '');
  const [note, setNote] = useState('');
  const [jsonText, setJsonText] = useState('');
  const [jsonError, setJsonError] = useState('');
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [topError, setTopError] = useState('');
  const [busy, setBusy] = useState(false);

  const parsed = fields.map((f) => [f, fromRaw(f, raw[f.name])] as const);
  const conf: Record<string, unknown> = { ...extra };
  for (const [f, r] of parsed) if (r.value !== undefined) conf[f.name] = r.value;
  const localJsonErrors = Object.fromEntries(parsed.filter(([, r]) => r.jsonError).map(([f, r]) => [f.name, r.jsonError!]));
  const confText = JSON.stringify(conf, null, 2);

  // The raw JSON editor shows the conf the fields make, except while the person is typing in it.
  const [editingJson, setEditingJson] = useState(false);
  const shownJson = editingJson || jsonError ? jsonText : confText;

  const setField = (name: string, v: Raw) => {
    setRaw((r) => ({ ...r, [name]: v }));
    setJsonError('');
    if (fieldErrors[name]) setFieldErrors((e) => ({ ...e, [name]: '' }));
  };

  const onJsonInput = (text: string) => {
    setJsonText(text);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      setJsonError(`Not valid JSON: ${(e as Error).message}`);
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      setJsonError('The conf must be a JSON object.');
      return;
    }
    setJsonError('');
    const obj = value as Record<string, unknown>;
    const nextRaw: Record<string, Raw> = { ...raw };
    const nextExtra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      const f = fields.find((x) => x.name === k);
      if (f) nextRaw[k] = toRaw(f, v);
      else nextExtra[k] = v;
    }
    for (const f of fields) if (!(f.name in obj)) nextRaw[f.name] = toRaw(f, undefined);
    setRaw(nextRaw);
    setExtra(nextExtra);
  };

  const submit = async (ev: Event) => {
    ev.preventDefault();
    setTopError('');
    setFieldErrors({});
    if (jsonError || Object.keys(localJsonErrors).length > 0) {
      setTopError('Fix the JSON first.');
      return;
    }
    setBusy(true);
    const body: Record<string, unknown> = { conf };
    if (runId.trim()) body.dag_run_id = runId.trim();
    if (note.trim()) body.note = note.trim();
    try {
      const run = await api<DagRun>('POST', p`/dags/${dagId}/dagRuns`, body);
      navigate(href(['dags', dagId], { tab: 'grid', run: run.dag_run_id }));
    } catch (e) {
      setBusy(false);
      if (e instanceof ApiError && (e.status === 400 || e.status === 409)) {
        const detail = e.detail || e.title;
        const names = namedFields(detail, [...fields.map((f) => f.name), 'dag_run_id']);
        const runIdError = e.status === 409 && runId.trim() !== '';
        if (runIdError) names.push('dag_run_id');
        if (names.length > 0) {
          setFieldErrors(Object.fromEntries(names.map((n) => [n, detail])));
          const first = document.getElementById(names[0] === 'dag_run_id' ? 'trigger-run-id' : `param-${names[0]}`);
          first?.focus();
        } else setTopError(detail);
      } else setTopError(describeError(e));
    }
  };

  const curl =
    `curl -X POST -u "$USER" '${location.origin}/api/v1/dags/${encodeURIComponent(dagId)}/dagRuns' \\\n` +
    `  -H 'Content-Type: application/json' \\\n  -d '${JSON.stringify(runId.trim() ? { dag_run_id: runId.trim(), conf } : { conf }).replace(/'/g, "'\\''")}'`;

  return (
    <form class="trigger-form" onSubmit={submit} noValidate>
      {topError && <div class="alert alert-error" role="alert" id="trigger-error">{topError}</div>}
      {props.dag.is_paused && (
        <div class="alert alert-info" role="note">This DAG is paused: the run will wait in the queue until it is unpaused.</div>
      )}
      <div class="form-cols">
        <fieldset class="card params">
          <legend>Params</legend>
          {fields.length === 0 && <p class="muted">This DAG takes no params; you can still pass a conf as JSON.</p>}
          {fields.map((f) => (
            <ParamField key={f.name} field={f} raw={raw[f.name]} error={fieldErrors[f.name] || localJsonErrors[f.name] || ''} onChange={(v) => setField(f.name, v)} />
          ))}
        </fieldset>
        <div class="side">
          <fieldset class="card">
            <legend>Run</legend>
            <div class={`field ${fieldErrors.dag_run_id ? 'invalid' : ''}`}>
              <label for="trigger-run-id">Run id <span class="muted">(optional)</span></label>
              <input
                id="trigger-run-id"
                value={runId}
                placeholder="manual__<time> when empty"
                aria-invalid={fieldErrors.dag_run_id ? true : undefined}
                aria-describedby={`trigger-run-id-help${fieldErrors.dag_run_id ? ' trigger-run-id-error' : ''}`}
                onInput={(e) => {
                  setRunId((e.currentTarget as HTMLInputElement).value);
                  if (fieldErrors.dag_run_id) setFieldErrors((x) => ({ ...x, dag_run_id: '' }));
                }}
              />
              <p class="help" id="trigger-run-id-help">Letters, digits and _ . ~ : + - only.</p>
              {fieldErrors.dag_run_id && <p class="field-error" id="trigger-run-id-error" role="alert">{fieldErrors.dag_run_id}</p>}
            </div>
            <div class="field">
              <label for="trigger-note">Note <span class="muted">(optional)</span></label>
              <input id="trigger-note" value={note} onInput={(e) => setNote((e.currentTarget as HTMLInputElement).value)} />
            </div>
          </fieldset>
          {props.services && props.services.length > 0 && (
            <section class="card">
              <h2 class="h-legend">Services this run will call</h2>
              <ul class="plain-list">
                {props.services.map((s) => <li key={s.name}><ServiceHealthMark {...s} /></li>)}
              </ul>
            </section>
          )}
        </div>
      </div>
      <details class="card conf-editor" open={fields.length === 0 || undefined}>
        <summary>Configuration JSON</summary>
        <div class={`field ${jsonError ? 'invalid' : ''}`}>
          <label for="trigger-conf">Conf sent with the run (edits here update the fields above)</label>
          <textarea
            id="trigger-conf"
            class="mono"
            rows={Math.min(16, Math.max(4, shownJson.split('\n').length + 1))}
            spellcheck={false}
            value={shownJson}
            onFocus={() => {
              if (!jsonError) setJsonText(confText);
              setEditingJson(true);
            }}
            onBlur={() => setEditingJson(false)}
            aria-invalid={jsonError ? true : undefined}
            aria-describedby={jsonError ? 'trigger-conf-error' : undefined}
            onInput={(e) => onJsonInput((e.currentTarget as HTMLTextAreaElement).value)}
          />
          {jsonError && <p class="field-error" id="trigger-conf-error" role="alert">{jsonError}</p>}
        </div>
      </details>
      <details class="card">
        <summary>The same with curl</summary>
        <pre class="code">{curl}</pre>
      </details>
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>{busy ? 'Triggering…' : '▶ Trigger'}</button>
        <a class="btn" href={href(['dags', dagId])}>Cancel</a>
      </div>
    </form>
  );
}

function ParamField(props: { field: Field; raw: Raw; error: string; onChange: (v: Raw) => void }) {
  const f = props.field;
  const id = `param-${f.name}`;
  const helpId = `${id}-help`;
  const errId = `${id}-error`;
  const described = [f.help || rules(f.schema) ? helpId : '', props.error ? errId : ''].filter(Boolean).join(' ') || undefined;
  const invalid = props.error ? true : undefined;
  const onText = (e: Event) => props.onChange((e.currentTarget as HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement).value);
  let input;
  switch (f.widget) {
    case 'integer':
    case 'number':
      input = (
        <input
          id={id}
          name={f.name}
          type="number"
          inputMode={f.widget === 'integer' ? 'numeric' : 'decimal'}
          step={f.widget === 'integer' ? 1 : 'any'}
          min={f.schema.minimum}
          max={f.schema.maximum}
          value={String(props.raw)}
          aria-required={f.required}
          aria-invalid={invalid}
          aria-describedby={described}
          onInput={onText}
        />
      );
      break;
    case 'enum':
      input = (
        <select id={id} name={f.name} value={String(props.raw)} aria-required={f.required} aria-invalid={invalid} aria-describedby={described} onChange={onText}>
          {!(f.schema.enum ?? []).some((v) => JSON.stringify(v) === props.raw) && <option value={String(props.raw)}>{String(props.raw)}</option>}
          {(f.schema.enum ?? []).map((v) => (
            <option key={JSON.stringify(v)} value={JSON.stringify(v)}>{typeof v === 'string' ? v : JSON.stringify(v)}</option>
          ))}
        </select>
      );
      break;
    case 'boolean':
      input = <Switch id={id} checked={props.raw === true} label={props.raw === true ? 'true' : 'false'} showLabel describedBy={described} onChange={(v) => props.onChange(v)} />;
      break;
    case 'json':
      input = (
        <textarea id={id} name={f.name} class="mono" rows={4} spellcheck={false} value={String(props.raw)} aria-required={f.required} aria-invalid={invalid} aria-describedby={described} onInput={onText} />
      );
      break;
    default:
      input = (
        <input
          id={id}
          name={f.name}
          type="text"
          minLength={f.schema.minLength}
          maxLength={f.schema.maxLength}
          pattern={f.schema.pattern}
          value={String(props.raw)}
          aria-required={f.required}
          aria-invalid={invalid}
          aria-describedby={described}
          onInput={onText}
        />
      );
  }
  return (
    <div class={`field ${props.error ? 'invalid' : ''}`} data-param={f.name}>
      <label for={id}>
        {f.label}
        {f.required && <span class="required" aria-hidden="true"> *</span>}
        {f.required && <span class="sr-only"> (required)</span>}
        {f.label !== f.name && <code class="param-key">{f.name}</code>}
      </label>
      {input}
      {(f.help || rules(f.schema)) && (
        <p class="help" id={helpId}>
          {f.help}
          {f.help && rules(f.schema) ? ' ' : ''}
          {rules(f.schema) && <span class="rules">{rules(f.schema)}</span>}
        </p>
      )}
      {props.error && <p class="field-error" id={errId} role="alert">{props.error}</p>}
    </div>
  );
}

function rules(s: JsonSchema): string {
  const out: string[] = [];
  const types = typesOf(s);
  if (types.length) out.push(types.join(' or '));
  if (s.minimum !== undefined) out.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) out.push(`≤ ${s.maximum}`);
  if (s.exclusiveMinimum !== undefined) out.push(`> ${s.exclusiveMinimum}`);
  if (s.exclusiveMaximum !== undefined) out.push(`< ${s.exclusiveMaximum}`);
  if (s.minLength !== undefined) out.push(`at least ${s.minLength} characters`);
  if (s.maxLength !== undefined) out.push(`at most ${s.maxLength} characters`);
  if (s.pattern) out.push(`matching ${s.pattern}`);
  if (s.format) out.push(s.format);
  return out.length ? `(${out.join(', ')})` : '';
}
