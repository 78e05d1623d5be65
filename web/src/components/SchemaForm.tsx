import { useEffect, useId, useState, type ReactNode } from 'react';
import type { Issue, JsonSchema } from '../types';
import { useFieldLabels } from './fieldLabels';
import TagTable from './TagTable';

// ── schema helpers ──────────────────────────────────────────────────────────────────────────

/** Follow a local `$ref` (`#/$defs/Name`). */
export function resolveRef(root: JsonSchema, s: JsonSchema | undefined): JsonSchema {
  let node = s ?? {};
  for (let guard = 0; node.$ref && guard < 20; guard++) {
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(node.$ref);
    const target = m ? (root.$defs ?? (root as Record<string, unknown>)['definitions'] as Record<string, JsonSchema> | undefined)?.[m[2]] : undefined;
    if (!target) break;
    const { $ref: _ignored, ...rest } = node;
    void _ignored;
    node = { ...target, ...rest };
  }
  return node;
}

function typeOf(s: JsonSchema): string | undefined {
  if (Array.isArray(s.type)) return s.type.find((t) => t !== 'null');
  return s.type;
}

export interface FieldSchema {
  schema: JsonSchema;
  nullable: boolean;
}

/** A property's effective schema: `$ref` resolved, `anyOf [X, null]` → optional X. */
export function unwrap(root: JsonSchema, prop: JsonSchema): FieldSchema {
  const s = resolveRef(root, prop);
  const branches = s.anyOf ?? s.oneOf;
  if (branches) {
    const resolved = branches.map((b) => resolveRef(root, b));
    const nonNull = resolved.filter((b) => typeOf(b) !== 'null' && b.type !== 'null');
    const nullable = nonNull.length < resolved.length;
    // Several non-null branches (a date or any string): the first one that is not a `format`.
    const pick = nonNull.find((b) => !b.format && typeOf(b) === typeOf(nonNull[0])) ?? nonNull[0] ?? {};
    return {
      nullable,
      schema: {
        ...pick,
        title: s.title ?? pick.title,
        description: s.description ?? pick.description,
        default: s.default !== undefined ? s.default : pick.default,
        examples: s.examples ?? pick.examples,
        enum: pick.enum,
      },
    };
  }
  const nullable = Array.isArray(s.type) && s.type.includes('null');
  return { schema: s, nullable };
}

/** A description as the UI words it (it has an Output folder, not the CLI's `--output`). */
export function uiText(text: string | undefined): string | undefined {
  return text?.replace(/under --output/g, 'under the Output folder').replace(/--output/g, 'the Output folder');
}

/** The options of a field whose values a registry of the schema lists (IODs, transfer
 * syntaxes): value and its words; null for any other field. */
function registryOptions(root: JsonSchema, key: string): { value: string; label: string; names: string[] }[] | null {
  if (key === 'iod' && root['x-iods'])
    return Object.entries(root['x-iods']).map(([name, info]) => ({ value: name, label: `${name}: ${info.title}`, names: info.names }));
  if (key === 'transfer_syntax' && root['x-transfer-syntaxes'])
    return Object.entries(root['x-transfer-syntaxes']).map(([name, ts]) => ({
      value: name,
      label: `${name}: ${ts.title}${ts.lossy && !/lossy/i.test(ts.title) ? ' (lossy)' : ''}`,
      names: [name, ts.uid, ...ts.aliases],
    }));
  return null;
}

const REGISTRY_HELP: Record<string, string> = {
  iod: 'what its instances are (a level below may choose another); a spec may also name an alias or a SOP Class UID',
  transfer_syntax: 'how its files are encoded (a level below may choose another)',
};

export function humanize(key: string): string {
  const s = key.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function joinPath(prefix: string, key: string | number): string {
  if (typeof key === 'number') return `${prefix}[${key}]`;
  return prefix ? `${prefix}.${key}` : key;
}

/** Issues at `path` or below it. */
export function issuesUnder(issues: Issue[], path: string): Issue[] {
  return issues.filter(
    (i) => i.path === path || i.path.startsWith(`${path}.`) || i.path.startsWith(`${path}[`),
  );
}

// ── small inputs with a draft (so typing is never fought by the parsed value) ─────────────

function ListInput({
  id,
  value,
  onChange,
  ...rest
}: {
  id: string;
  value: string[] | undefined;
  onChange: (v: string[] | undefined) => void;
  'aria-describedby'?: string;
  'aria-invalid'?: boolean;
  title?: string;
  placeholder?: string;
}) {
  const joined = (value ?? []).join(' ');
  const [draft, setDraft] = useState(joined);
  useEffect(() => {
    const parsed = draft.split(/[\s,]+/).filter(Boolean).join(' ');
    if (parsed !== joined) setDraft(joined);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [joined]);
  return (
    <input
      id={id}
      type="text"
      value={draft}
      onChange={(e) => {
        setDraft(e.target.value);
        const list = e.target.value.split(/[\s,]+/).filter(Boolean);
        onChange(list.length ? list : undefined);
      }}
      {...rest}
    />
  );
}

function NumberInput({
  id,
  value,
  integer,
  onChange,
  ...rest
}: {
  id: string;
  value: number | undefined;
  integer: boolean;
  onChange: (v: number | undefined) => void;
  min?: number;
  max?: number;
  'aria-describedby'?: string;
  'aria-invalid'?: boolean;
  title?: string;
  placeholder?: string;
}) {
  const [draft, setDraft] = useState(value === undefined || value === null ? '' : String(value));
  useEffect(() => {
    const current = draft.trim() === '' ? undefined : Number(draft);
    if (current !== value) setDraft(value === undefined || value === null ? '' : String(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return (
    <input
      id={id}
      type="number"
      step={integer ? 1 : 'any'}
      value={draft}
      onChange={(e) => {
        setDraft(e.target.value);
        const t = e.target.value.trim();
        if (t === '') return onChange(undefined);
        const n = Number(t);
        if (Number.isFinite(n)) onChange(n);
      }}
      {...rest}
    />
  );
}

function JsonInput({
  id,
  value,
  onChange,
  ...rest
}: {
  id: string;
  value: unknown;
  onChange: (v: unknown) => void;
  'aria-describedby'?: string;
}) {
  const text = value === undefined ? '' : JSON.stringify(value, null, 2);
  const [draft, setDraft] = useState(text);
  const [bad, setBad] = useState(false);
  useEffect(() => {
    try {
      if (JSON.stringify(draft.trim() ? JSON.parse(draft) : undefined) === JSON.stringify(value)) return;
    } catch {
      /* replace */
    }
    setDraft(text);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text]);
  return (
    <>
      <textarea
        id={id}
        rows={3}
        className="mono"
        value={draft}
        aria-invalid={bad || undefined}
        onChange={(e) => {
          setDraft(e.target.value);
          if (!e.target.value.trim()) {
            setBad(false);
            return onChange(undefined);
          }
          try {
            onChange(JSON.parse(e.target.value));
            setBad(false);
          } catch {
            setBad(true);
          }
        }}
        {...rest}
      />
      {bad && <div className="field-error">Not valid JSON yet.</div>}
    </>
  );
}

// ── the form ────────────────────────────────────────────────────────────────────────────────

export interface SchemaFormProps {
  /** The whole schema (for `$defs`). */
  root: JsonSchema;
  /** The object schema to render (may be a `$ref`). */
  schema: JsonSchema;
  value: Record<string, unknown> | null | undefined;
  onChange: (value: Record<string, unknown>) => void;
  /** Issue path of this object (`''` for the spec itself, `patients[0]`, …). */
  path: string;
  issues: Issue[];
  /** Properties not to render (edited elsewhere). */
  exclude?: string[];
  /** Properties to render first, in this order. */
  order?: string[];
  /** Prefix of accessible labels (`Study 1`) — optional. */
  labelPrefix?: string;
}

/**
 * A form generated from a JSON Schema object: string → text (select for `enum`, suggestions for
 * `examples`), integer/number → number, boolean → checkbox, arrays of strings → a list, arrays of
 * objects → a form per item (add, remove), nested
 * objects → a fieldset, `tags` mappings → the tag table, anything else → JSON.
 */
export default function SchemaForm({ root, schema, value, onChange, path, issues, exclude = [], order = [] }: SchemaFormProps) {
  const uid = useId().replace(/:/g, '');
  const obj = resolveRef(root, schema);
  const v = value ?? {};
  const props = obj.properties ?? {};
  const keys = Object.keys(props).filter((k) => !exclude.includes(k));
  const labelOf = useFieldLabels(keys);
  keys.sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? 1e6 : ia) - (ib < 0 ? 1e6 : ib);
  });

  const set = (key: string, next: unknown) => {
    const out = { ...v };
    if (next === undefined) delete out[key];
    else out[key] = next;
    onChange(out);
  };

  const fields: ReactNode[] = [];
  for (const key of keys) {
    const { schema: f, nullable } = unwrap(root, props[key]);
    if (f.const !== undefined) continue; // fixed (version)
    const id = `${uid}-${key}`;
    const type = typeOf(f);
    const fieldPath = joinPath(path, key);
    const label = labelOf(key);
    const registry = type === 'string' ? registryOptions(root, key) : null;
    // a registry's select says its names itself: a short help, the long one as the title
    const desc = registry ? REGISTRY_HELP[key] : uiText(f.description);
    const descId = desc ? `${id}-desc` : undefined;
    const errs = issuesUnder(issues, fieldPath);
    const errId = errs.length ? `${id}-err` : undefined;
    const describedBy = [descId, errId].filter(Boolean).join(' ') || undefined;
    const current = v[key];
    const def = f.default;
    const defText = def === null || def === undefined || def === '' ? '' : String(def);
    const errorBlock = errs.length > 0 && (
      <div id={errId} className="field-error">
        {errs.map((i, n) => (
          <div key={n}>
            {i.path !== fieldPath ? `${i.path.slice(fieldPath.length).replace(/^\./, '')}: ` : ''}
            {i.message}
            {i.suggestion ? ` (did you mean ${i.suggestion}?)` : ''}
          </div>
        ))}
      </div>
    );
    const help = desc ? (
      <small id={descId} className="hint">
        {desc}
      </small>
    ) : null;

    // Free-form mappings: the tag table (every `tags`).
    if (type === 'object' && !f.properties && f.additionalProperties !== false) {
      fields.push(
        <fieldset key={key} className="field field-wide" data-field={fieldPath}>
          <legend title={desc}>{label}</legend>
          {help}
          <TagTable
            label={label}
            value={current as Record<string, unknown> | undefined}
            onChange={(t) => set(key, t)}
            path={fieldPath}
            issues={errs}
          />
        </fieldset>,
      );
      continue;
    }
    // Nested objects: a fieldset.
    if (type === 'object' && f.properties) {
      const sub = (current && typeof current === 'object' ? current : {}) as Record<string, unknown>;
      fields.push(
        <fieldset key={key} className="field field-wide nested" data-field={fieldPath}>
          <legend title={desc}>{label}</legend>
          {help}
          <SchemaForm
            root={root}
            schema={f}
            value={sub}
            path={fieldPath}
            issues={issues}
            onChange={(n) => set(key, Object.keys(n).length ? n : undefined)}
          />
        </fieldset>,
      );
      continue;
    }

    // Lists of objects (findings): one nested form per item, with add and remove.
    const itemSchema = type === 'array' ? resolveRef(root, f.items) : undefined;
    if (itemSchema && typeOf(itemSchema) === 'object' && itemSchema.properties) {
      const items = Array.isArray(current) ? (current as Record<string, unknown>[]) : [];
      const noun = humanize(key).replace(/s$/, '').toLowerCase();
      const put = (next: Record<string, unknown>[]) => set(key, next.length ? next : undefined);
      fields.push(
        <fieldset key={key} className="field field-wide nested" data-field={fieldPath}>
          <legend title={desc}>{label}</legend>
          {help}
          {items.map((item, n) => (
            <fieldset key={n} className="nested" data-field={joinPath(fieldPath, n)}>
              <legend>
                {humanize(noun)} {n + 1}{' '}
                <button type="button" onClick={() => put(items.filter((_, k) => k !== n))} aria-label={`Remove ${noun} ${n + 1}`}>
                  Remove
                </button>
              </legend>
              <SchemaForm
                root={root}
                schema={f.items ?? {}}
                value={item}
                path={joinPath(fieldPath, n)}
                issues={issues}
                onChange={(next) => put(items.map((old, k) => (k === n ? next : old)))}
              />
            </fieldset>
          ))}
          <button type="button" onClick={() => put([...items, {}])}>
            Add {noun}
          </button>
          {errorBlock}
        </fieldset>,
      );
      continue;
    }

    let control: ReactNode;
    const common = {
      'aria-describedby': describedBy,
      'aria-invalid': errs.length > 0 || undefined,
      title: desc,
    };
    if (registry) {
      // a registry's names as a select with their titles; a value it names otherwise (an alias,
      // a UID) stays selected as itself
      const raw = current === undefined || current === null ? '' : String(current);
      const known = registry.find((o) => o.names.some((n) => n.toLowerCase() === raw.toLowerCase()));
      control = (
        <select id={id} value={raw} onChange={(e) => set(key, e.target.value === '' ? undefined : e.target.value)} {...common}>
          <option value="">{key === 'iod' ? '(not set: mg)' : '(not set: explicit-le)'}</option>
          {raw && !registry.some((o) => o.value === raw) && (
            <option value={raw}>{known ? `${raw} (= ${known.label})` : `${raw} (unknown)`}</option>
          )}
          {registry.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      );
    } else if (f.enum) {
      control = (
        <select
          id={id}
          value={current === undefined || current === null ? '' : String(current)}
          onChange={(e) => {
            const raw = e.target.value;
            if (raw === '') return set(key, nullable ? undefined : undefined);
            const hit = f.enum!.find((o) => String(o) === raw);
            set(key, hit);
          }}
          {...common}
        >
          <option value="">{defText ? `(default: ${defText})` : '(not set)'}</option>
          {f.enum.map((o) => (
            <option key={String(o)} value={String(o)}>
              {String(o) === '' ? '(empty)' : String(o)}
            </option>
          ))}
        </select>
      );
    } else if (type === 'boolean') {
      fields.push(
        <div key={key} className="field field-check" data-field={fieldPath}>
          <label className="check">
            <input
              id={id}
              type="checkbox"
              checked={current === undefined || current === null ? def === true : current === true}
              onChange={(e) => set(key, e.target.checked ? true : def === true ? false : undefined)}
              {...common}
            />{' '}
            {label}
          </label>
          {help}
          {errorBlock}
        </div>,
      );
      continue;
    } else if (type === 'integer' || type === 'number') {
      control = (
        <NumberInput
          id={id}
          integer={type === 'integer'}
          value={typeof current === 'number' ? current : undefined}
          min={f.minimum}
          max={f.maximum}
          placeholder={defText}
          onChange={(n) => set(key, n)}
          {...common}
        />
      );
    } else if (type === 'array' && typeOf(resolveRef(root, f.items)) === 'string') {
      control = (
        <ListInput
          id={id}
          value={Array.isArray(current) ? (current as string[]) : undefined}
          placeholder="space- or comma-separated"
          onChange={(list) => set(key, list)}
          {...common}
        />
      );
    } else if (type === 'string') {
      const listId = f.examples?.length ? `${id}-examples` : undefined;
      control = (
        <>
          <input
            id={id}
            type="text"
            list={listId}
            value={current === undefined || current === null ? '' : String(current)}
            placeholder={defText}
            onChange={(e) => set(key, e.target.value === '' ? undefined : e.target.value)}
            {...common}
          />
          {listId && (
            <datalist id={listId}>
              {f.examples!.map((x) => (
                <option key={String(x)} value={String(x)} />
              ))}
            </datalist>
          )}
        </>
      );
    } else {
      control = <JsonInput id={id} value={current} onChange={(n) => set(key, n)} aria-describedby={describedBy} />;
    }
    fields.push(
      <div key={key} className={`field${errs.length ? ' has-issue' : ''}`} data-field={fieldPath}>
        <label htmlFor={id} title={desc}>
          {label}
        </label>
        {control}
        {help}
        {errorBlock}
      </div>,
    );
  }
  return <div className="schema-form">{fields}</div>;
}
