import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { useReportProblems } from './draftProblems';
import { get } from '../api';
import type { DictionaryEntry, Issue } from '../types';

// ── values ──────────────────────────────────────────────────────────────────────────────────

const NUMERIC_VRS = new Set(['US', 'UL', 'SS', 'SL', 'FL', 'FD', 'IS', 'DS', 'SV', 'UV']);

export const VR_HINTS: Record<string, string> = {
  AE: 'AE: application entity title, up to 16 characters',
  AS: 'AS: age string like 062Y, 018M, 003W, 010D',
  AT: 'AT: a tag, e.g. (0028,0010)',
  CS: 'CS: code string, upper case, digits, space, underscore; up to 16 characters',
  DA: 'DA: date 2024-03-01, 20240301 or relative -2y, -18m, -1y6m, -30d, current',
  DS: 'DS: decimal number (up to 16 characters)',
  DT: 'DT: date-time YYYYMMDDHHMMSS.FFFFFF&ZZXX',
  FL: 'FL: 32-bit float',
  FD: 'FD: 64-bit float',
  IS: 'IS: integer string (up to 12 characters)',
  LO: 'LO: long string, up to 64 characters, no backslash',
  LT: 'LT: long text, up to 10240 characters',
  OB: 'OB: bytes — a string, {hex: "…"}, {base64: "…"} or a list of byte values',
  OD: 'OD: 64-bit floats (binary)',
  OF: 'OF: 32-bit floats (binary)',
  OL: 'OL: 32-bit words (binary)',
  OV: 'OV: 64-bit words (binary)',
  OW: 'OW: 16-bit words — a string, {hex: "…"}, {base64: "…"} or a list of values',
  PN: 'PN: person name Family^Given^Middle^Prefix^Suffix, or {"family": "Doe", "given": "Jane"}',
  SH: 'SH: short string, up to 16 characters',
  SL: 'SL: signed 32-bit integer',
  SQ: 'SQ: sequence — a JSON list of items, each a mapping of tags: [{"CodeValue": "…"}]',
  SS: 'SS: signed 16-bit integer',
  ST: 'ST: short text, up to 1024 characters',
  SV: 'SV: signed 64-bit integer',
  TM: 'TM: time 10:30:00 or 103000',
  UC: 'UC: unlimited characters',
  UI: 'UI: UID, digits and dots, up to 64 characters',
  UL: 'UL: unsigned 32-bit integer',
  UN: 'UN: unknown — bytes as for OB',
  UR: 'UR: URI/URL',
  US: 'US: unsigned 16-bit integer (0–65535)',
  UT: 'UT: unlimited text',
  UV: 'UV: unsigned 64-bit integer',
};

const GENERAL_HINT =
  'Several values: a JSON list or a backslash-separated string; null for present-but-empty; {"vr": "LO", "value": …} to name the VR.';

/** Text typed in a value cell → the spec value. */
export function parseTagValue(text: string, vr: string | null): unknown {
  const t = text.trim();
  if (t === '' || t === 'null') return null;
  if (/^[[{]/.test(t) || t === 'true' || t === 'false') {
    try {
      return JSON.parse(t);
    } catch {
      return text;
    }
  }
  if (vr && NUMERIC_VRS.has(vr) && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
  return text;
}

export function formatTagValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

const PRIVATE_RE = /^\(([0-9A-Fa-f]{4}),"(.*)",([0-9A-Fa-f]{2})\)$/;

export function privateKey(group: string, creator: string, element: string): string {
  return `(${group.toUpperCase()},"${creator}",${element.toUpperCase()})`;
}

// ── dictionary look-ups ─────────────────────────────────────────────────────────────────────

const lookupCache = new Map<string, Promise<DictionaryEntry[]>>();

function searchDictionary(q: string, limit = 20): Promise<DictionaryEntry[]> {
  const key = `${q}\u0000${limit}`;
  let p = lookupCache.get(key);
  if (!p) {
    p = get<DictionaryEntry[]>('/api/dictionary', { q, limit }).catch((err) => {
      lookupCache.delete(key);
      throw err;
    });
    lookupCache.set(key, p);
  }
  return p;
}

function normTag(s: string): string {
  return s.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
}

/** The dictionary entry of a key (keyword or tag), if the dictionary knows it. */
async function entryFor(key: string): Promise<DictionaryEntry | null> {
  if (!key || PRIVATE_RE.test(key)) return null;
  const list = await searchDictionary(key, 5);
  const k = key.toLowerCase();
  return (
    list.find((e) => e.keyword.toLowerCase() === k) ??
    (/^\(?[0-9A-Fa-f]{4},?[0-9A-Fa-f]{4}\)?$/.test(key) ? list.find((e) => normTag(e.tag) === normTag(key)) : undefined) ??
    null
  );
}

// ── the key combobox ────────────────────────────────────────────────────────────────────────

interface ComboProps {
  id: string;
  label: string;
  value: string;
  invalid?: boolean;
  describedBy?: string;
  onChange: (value: string) => void;
  onPick: (entry: DictionaryEntry) => void;
}

/** A text input with dictionary suggestions (keyword, tag, VR, VM); arrows + Enter pick one. */
export function KeyCombobox({ id, label, value, invalid, describedBy, onChange, onPick }: ComboProps) {
  const [open, setOpen] = useState(false);
  const [options, setOptions] = useState<DictionaryEntry[]>([]);
  const [active, setActive] = useState(-1);
  const [query, setQuery] = useState<string | null>(null);
  const listId = `${id}-list`;
  const rootRef = useRef<HTMLDivElement>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const focused = () => document.activeElement === inputRef.current;
  const close = () => {
    setOpen(false);
    setActive(-1);
  };

  // A click anywhere outside the field and its list closes the list, once that click is over:
  // the list takes room in the page, and closing it on pointer down would move what was clicked
  // away from under the pointer before the click lands.
  const pointerOutside = useRef(false);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: PointerEvent) => {
      if (rootRef.current?.contains(e.target as Node)) return;
      pointerOutside.current = true;
      const done = () => {
        window.removeEventListener('pointerup', done, true);
        window.removeEventListener('pointercancel', done, true);
        window.setTimeout(() => {
          pointerOutside.current = false;
          close();
        }, 0);
      };
      window.addEventListener('pointerup', done, true);
      window.addEventListener('pointercancel', done, true);
    };
    document.addEventListener('pointerdown', onDown);
    return () => document.removeEventListener('pointerdown', onDown);
  }, [open]);

  useEffect(() => {
    if (query === null) return;
    const q = query.trim();
    if (!q) {
      setOptions([]);
      return;
    }
    let cancelled = false;
    const t = window.setTimeout(() => {
      searchDictionary(q, 20).then(
        (list) => {
          if (cancelled) return;
          setOptions(list);
          setActive(-1);
          // an answer that comes after the field lost focus (Tab) must not open the list
          if (focused()) setOpen(true);
        },
        () => {
          if (!cancelled) setOptions([]);
        },
      );
    }, 150);
    return () => {
      cancelled = true;
      window.clearTimeout(t);
    };
  }, [query]);

  const pick = (entry: DictionaryEntry) => {
    onPick(entry);
    setOpen(false);
    setActive(-1);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      if (!open) {
        setOpen(true);
        if (query === null) setQuery(value);
      }
      setActive((a) => (options.length ? (a + 1) % options.length : -1));
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((a) => (options.length ? (a <= 0 ? options.length - 1 : a - 1) : -1));
    } else if (e.key === 'Enter') {
      if (open && active >= 0 && options[active]) {
        e.preventDefault();
        pick(options[active]);
      }
    } else if (e.key === 'Escape') {
      if (open) e.preventDefault();
      close();
      setQuery(null); // and a look-up still under way does not open it again
    } else if (e.key === 'Tab') {
      close();
      setQuery(null); // a look-up still under way is dropped
    }
  };

  const expanded = open && options.length > 0;
  return (
    <div className="combo" ref={rootRef}>
      <input
        ref={inputRef}
        id={id}
        type="text"
        role="combobox"
        aria-label={label}
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-activedescendant={expanded && active >= 0 ? `${listId}-${active}` : undefined}
        aria-invalid={invalid || undefined}
        aria-describedby={describedBy}
        autoComplete="off"
        spellCheck={false}
        value={value}
        placeholder="Keyword or (gggg,eeee)"
        onChange={(e) => {
          onChange(e.target.value);
          setQuery(e.target.value);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => {
          if (!pointerOutside.current) close(); // else when the click is over (above)
          setQuery(null);
        }}
        onFocus={() => {
          if (options.length) setOpen(true);
        }}
      />
      <ul id={listId} role="listbox" aria-label={`${label} suggestions`} className="combo-list" hidden={!expanded}>
        {expanded &&
          options.map((o, i) => (
            <li
              key={`${o.tag}-${o.keyword}`}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'active' : undefined}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(o);
              }}
              onMouseEnter={() => setActive(i)}
            >
              <span className="kw">{o.keyword}</span> <span className="mono">{o.tag}</span>{' '}
              <span className="vr">{o.vr}</span> <span className="muted">VM {o.vm}</span>
            </li>
          ))}
      </ul>
    </div>
  );
}

// ── the table ───────────────────────────────────────────────────────────────────────────────

interface Row {
  id: number;
  key: string;
  text: string;
  vr: string | null;
  priv: boolean;
  group: string;
  creator: string;
  element: string;
}

/** VRs offered for a private element (the dictionary cannot know them): every VR the spec
 * accepts (studyspec/tags.py KNOWN_VRS), the common text ones first. */
const COMMON_VRS = ['LO', 'SH', 'LT', 'ST', 'UT', 'CS', 'DS', 'IS', 'DA', 'TM', 'DT', 'PN', 'UI'];
export const PRIVATE_VRS = [...COMMON_VRS, ...Object.keys(VR_HINTS).filter((vr) => !COMMON_VRS.includes(vr)).sort()];

/** The key two rows must not share: a tag in one spelling, a keyword in any case. */
function keyIdentity(key: string): string {
  const k = key.trim();
  if (/^\(?[0-9A-Fa-f]{4},?[0-9A-Fa-f]{4}\)?$/.test(k)) return normTag(k);
  return PRIVATE_RE.test(k) ? k.toUpperCase() : k.toLowerCase();
}

/** The items of a sequence row's text (a JSON list of mappings), or null if it is not one. */
function sequenceItems(text: string): Record<string, unknown>[] | null {
  const t = text.trim();
  if (!t || t === 'null') return [];
  try {
    const v: unknown = JSON.parse(t);
    const list = Array.isArray(v) ? v : v && typeof v === 'object' ? [v] : null;
    if (list && list.every((i) => i && typeof i === 'object' && !Array.isArray(i))) return list as Record<string, unknown>[];
  } catch {
    /* not JSON */
  }
  return null;
}

let rowIds = 1;

function rowsFrom(value: Record<string, unknown> | null | undefined): Row[] {
  return Object.entries(value || {}).map(([key, v]) => {
    const m = PRIVATE_RE.exec(key);
    const explicitVr = v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { vr?: unknown }).vr === 'string';
    // a private element's VR has its own select: show only its value in the text box
    const shown = m && explicitVr ? (v as { value?: unknown }).value : v;
    return {
      id: rowIds++,
      key,
      text: formatTagValue(shown),
      vr: explicitVr ? String((v as { vr: string }).vr) : m ? 'LO' : null,
      priv: !!m,
      group: m ? m[1] : '',
      creator: m ? m[2] : '',
      element: m ? m[3] : '',
    };
  });
}

function valueFrom(rows: Row[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of rows) {
    if (!r.key.trim()) continue;
    const value = parseTagValue(r.text, r.vr);
    out[r.key.trim()] = r.priv ? { vr: r.vr || 'LO', value } : value;
  }
  return out;
}

function issueMatches(issue: Issue, prefix: string, key: string): boolean {
  if (!key) return false;
  if (!issue.path.startsWith(prefix)) return false;
  const rest = issue.path.slice(prefix.length).replace(/^[.[]/, '');
  const k = key.trim();
  return (
    rest === k ||
    rest.startsWith(`${k}.`) ||
    rest.startsWith(`${k}[`) ||
    rest.startsWith(`"${k}"`) ||
    rest.startsWith(`'${k}'`) ||
    rest.startsWith(`${k}]`)
  );
}

interface Props {
  value: Record<string, unknown> | null | undefined;
  onChange: (value: Record<string, unknown> | undefined) => void;
  /** Issue path of this mapping, e.g. `patients[0].tags`. */
  path: string;
  issues: Issue[];
  label?: string;
  /** Words before each control's label in a nested table (a sequence's item): `Seq item 1`. */
  labelPrefix?: string;
}

/** Editor of a `tags` mapping: one row per attribute (key with dictionary completion, value, VR
 * hint); a sequence (SQ) gets a table per item below its row. */
export default function TagTable({ value, onChange, path, issues, label = 'Tags', labelPrefix = '' }: Props) {
  const named = (text: string) => (labelPrefix ? `${labelPrefix} ${text.charAt(0).toLowerCase()}${text.slice(1)}` : text);
  const uid = useId().replace(/:/g, '');
  const [rows, setRows] = useState<Row[]>(() => rowsFrom(value));
  const emitted = useRef<string>(JSON.stringify(value ?? {}));

  // A spec loaded from elsewhere (import, scenario, undo) replaces the rows.
  useEffect(() => {
    const incoming = JSON.stringify(value ?? {});
    if (incoming !== emitted.current) {
      emitted.current = incoming;
      setRows(rowsFrom(value));
    }
  }, [value]);

  // Look up the VR of keys that do not have one yet.
  useEffect(() => {
    let cancelled = false;
    rows.forEach((r) => {
      if (r.vr || r.priv || !r.key.trim()) return;
      entryFor(r.key.trim()).then(
        (entry) => {
          if (!cancelled && entry)
            setRows((prev) => prev.map((p) => (p.id === r.id && p.key === r.key ? { ...p, vr: entry.vr } : p)));
        },
        () => undefined,
      );
    });
    return () => {
      cancelled = true;
    };
  }, [rows]);

  const commit = (next: Row[]) => {
    setRows(next);
    const v = valueFrom(next);
    const s = JSON.stringify(v);
    emitted.current = s;
    onChange(Object.keys(v).length ? v : undefined);
  };
  const update = (id: number, patch: Partial<Row>) =>
    commit(
      rows.map((r) => {
        if (r.id !== id) return r;
        const n = { ...r, ...patch };
        if (n.priv && ('group' in patch || 'creator' in patch || 'element' in patch || 'priv' in patch))
          n.key = n.group || n.creator || n.element ? privateKey(n.group, n.creator, n.element) : '';
        return n;
      }),
    );

  const matched = new Set<Issue>();
  const rowIssues = rows.map((r) => {
    const list = issues.filter((i) => issueMatches(i, path, r.key));
    list.forEach((i) => matched.add(i));
    return list;
  });
  const other = issues.filter((i) => !matched.has(i));

  // Two rows with one key: the spec keeps only the last; flag both and count it as a problem.
  const rowsByKey = new Map<string, number[]>();
  rows.forEach((r, idx) => {
    if (!r.key.trim()) return;
    const k = keyIdentity(r.key);
    rowsByKey.set(k, [...(rowsByKey.get(k) ?? []), idx]);
  });
  const duplicateOf = rows.map((r) => {
    if (!r.key.trim()) return [];
    return (rowsByKey.get(keyIdentity(r.key)) ?? []).filter((_, __, all) => all.length > 1);
  });
  const duplicates: Issue[] = [...rowsByKey.values()]
    .filter((idx) => idx.length > 1)
    .map((idx) => ({
      path: `${path}.${rows[idx[0]].key.trim()}`,
      message: `duplicate key: rows ${idx.map((i) => i + 1).join(' and ')} set the same attribute; only the last value is kept`,
      suggestion: null,
    }));
  useReportProblems(`${uid}:${path}`, duplicates);

  return (
    <div className="tag-table" role="group" aria-label={label}>
      {rows.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Attribute</th>
              <th scope="col">Value</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, idx) => {
              const n = idx + 1;
              const hintId = `${uid}-hint-${r.id}`;
              const errId = `${uid}-err-${r.id}`;
              const dup = duplicateOf[idx];
              const errs: Issue[] = [
                ...rowIssues[idx],
                ...(dup.length
                  ? [{ path: '', message: `Duplicate: rows ${dup.map((i) => i + 1).join(' and ')} set ${r.key.trim()}; only the last value is kept.`, suggestion: null }]
                  : []),
              ];
              const items = r.vr === 'SQ' ? sequenceItems(r.text) : null;
              const setItems = (next: Record<string, unknown>[]) => update(r.id, { text: next.length ? JSON.stringify(next) : '' });
              const hint = r.priv
                ? `Private element ${r.key || ''}: ${VR_HINTS[r.vr || 'LO'] ?? r.vr}`
                : r.vr
                  ? (VR_HINTS[r.vr] ?? r.vr)
                  : r.key
                    ? 'VR unknown: check the keyword'
                    : '';
              return (
                <tr key={r.id} className={errs.length ? 'has-issue' : undefined} data-testid={dup.length ? 'duplicate-tag-row' : undefined}>
                  <td className="tag-key">
                    <label className="check small">
                      <input
                        type="checkbox"
                        checked={r.priv}
                        aria-label={named(`Private element ${n}`)}
                        onChange={(e) =>
                          update(r.id, { priv: e.target.checked, vr: e.target.checked ? 'LO' : null, ...(e.target.checked ? {} : { key: '' }) })
                        }
                      />{' '}
                      private
                    </label>
                    {r.priv ? (
                      <div className="private-key">
                        <input
                          aria-label={named(`Private group ${n}`)}
                          className="hex4"
                          placeholder="0029"
                          maxLength={4}
                          value={r.group}
                          onChange={(e) => update(r.id, { group: e.target.value })}
                        />
                        <input
                          aria-label={named(`Private creator ${n}`)}
                          placeholder="CREATOR"
                          value={r.creator}
                          onChange={(e) => update(r.id, { creator: e.target.value })}
                        />
                        <input
                          aria-label={named(`Private element byte ${n}`)}
                          className="hex2"
                          placeholder="08"
                          maxLength={2}
                          value={r.element}
                          onChange={(e) => update(r.id, { element: e.target.value })}
                        />
                        <select
                          aria-label={named(`Private VR ${n}`)}
                          value={r.vr || 'LO'}
                          onChange={(e) => update(r.id, { vr: e.target.value })}
                        >
                          {PRIVATE_VRS.map((vr) => (
                            <option key={vr} value={vr}>
                              {vr}
                            </option>
                          ))}
                        </select>
                        <code className="key-preview" aria-label={named(`Key ${n}`)}>
                          {r.key}
                        </code>
                      </div>
                    ) : (
                      <KeyCombobox
                        id={`${uid}-key-${r.id}`}
                        label={named(`Tag key ${n}`)}
                        value={r.key}
                        invalid={errs.length > 0}
                        describedBy={errs.length ? errId : undefined}
                        onChange={(key) => update(r.id, { key, vr: null })}
                        onPick={(entry) => update(r.id, { key: entry.keyword || entry.tag, vr: entry.vr })}
                      />
                    )}
                  </td>
                  <td className="tag-value">
                    {items ? (
                      <div className="sequence" role="group" aria-label={named(`Items of ${r.key.trim() || `tag ${n}`}`)}>
                        {items.length === 0 && <p className="muted small-text">No items: an empty sequence.</p>}
                        {items.map((item, k) => {
                          const itemName = `${r.key.trim() || `Tag ${n}`} item ${k + 1}`;
                          return (
                            <fieldset key={k} className="sequence-item" data-testid="sequence-item">
                              <legend>
                                {itemName}{' '}
                                <button
                                  type="button"
                                  className="small danger"
                                  aria-label={named(`Remove ${itemName}`)}
                                  onClick={() => setItems(items.filter((_, x) => x !== k))}
                                >
                                  Remove item
                                </button>
                              </legend>
                              <TagTable
                                value={item}
                                label={named(itemName)}
                                labelPrefix={named(itemName)}
                                path={`${path}.${r.key.trim()}[${k}]`}
                                issues={issues.filter((i) => i.path.startsWith(`${path}.${r.key.trim()}[${k}]`))}
                                onChange={(t) => setItems(items.map((old, x) => (x === k ? (t ?? {}) : old)))}
                              />
                            </fieldset>
                          );
                        })}
                        <button type="button" className="small" onClick={() => setItems([...items, {}])}>
                          {named(`Add item to ${r.key.trim() || `tag ${n}`}`)}
                        </button>
                      </div>
                    ) : (
                      <input
                        type="text"
                        aria-label={named(`Tag value ${n}`)}
                        aria-describedby={`${hintId}${errs.length ? ` ${errId}` : ''}`}
                        aria-invalid={errs.length > 0 || undefined}
                        value={r.text}
                        placeholder="empty (null)"
                        onChange={(e) => update(r.id, { text: e.target.value })}
                      />
                    )}
                    <small id={hintId} className="hint" title={GENERAL_HINT}>
                      {items ? 'SQ: a sequence — its items below, each a table of tags' : hint}
                    </small>
                    {errs.length > 0 && (
                      <div id={errId} className="field-error">
                        {errs.map((i, k) => (
                          <div key={k}>
                            {i.message}
                            {i.suggestion ? ` (did you mean ${i.suggestion}?)` : ''}
                          </div>
                        ))}
                      </div>
                    )}
                  </td>
                  <td>
                    <button
                      type="button"
                      className="small danger"
                      aria-label={named(`Remove tag ${n}`)}
                      onClick={() => commit(rows.filter((x) => x.id !== r.id))}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {other.length > 0 && (
        <div className="field-error">
          {other.map((i, k) => (
            <div key={k}>
              {i.path}: {i.message}
            </div>
          ))}
        </div>
      )}
      <div className="row-actions">
        <button
          type="button"
          className="small"
          aria-label={labelPrefix ? named('Add tag') : undefined}
          onClick={() =>
            setRows((prev) => [...prev, { id: rowIds++, key: '', text: '', vr: null, priv: false, group: '', creator: '', element: '' }])
          }
        >
          Add tag
        </button>
        <small className="hint">{GENERAL_HINT}</small>
      </div>
    </div>
  );
}
