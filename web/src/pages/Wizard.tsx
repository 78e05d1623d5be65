import { useEffect, useMemo, useRef, useState, type ChangeEvent } from 'react';
import { ApiError, get, post } from '../api';
import { InlineError, useReportError } from '../components/Alerts';
import JobProgress from '../components/JobProgress';
import SchemaForm, { resolveRef } from '../components/SchemaForm';
import Thumbnails from '../components/Thumbnails';
import { useSticky } from '../state';
import type { ExportResult, GeneratedDataset, ImportResult, Info, JobAnswer, Issue, JsonSchema, Spec, ValidateResult } from '../types';

type Obj = Record<string, unknown>;
type Level = 'spec' | 'patient' | 'study' | 'series' | 'instance';
interface Sel {
  level: Level;
  p: number;
  s: number;
  r: number;
  i: number;
}

export const NEW_SPEC: Spec = {
  name: 'power_customized_dataset',
  patients: [{ studies: [{ role: 'current', series: [{}] }] }],
};

const asObj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const asList = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

type PathPart = string | number;

function getIn(obj: unknown, path: PathPart[]): unknown {
  let cur: unknown = obj;
  for (const part of path) {
    if (cur === null || cur === undefined) return undefined;
    cur = (cur as Record<string | number, unknown>)[part];
  }
  return cur;
}

function setIn(obj: unknown, path: PathPart[], value: unknown): unknown {
  if (!path.length) return value;
  const [head, ...rest] = path;
  if (typeof head === 'number') {
    const list = Array.isArray(obj) ? obj.slice() : [];
    list[head] = setIn(list[head], rest, value);
    return list;
  }
  const o = { ...asObj(obj) };
  const next = setIn(o[head], rest, value);
  if (next === undefined) delete o[head];
  else o[head] = next;
  return o;
}

function nodePath(sel: Sel, level: Level = sel.level): PathPart[] {
  const out: PathPart[] = [];
  if (level === 'spec') return out;
  out.push('patients', sel.p);
  if (level === 'patient') return out;
  out.push('studies', sel.s);
  if (level === 'study') return out;
  out.push('series', sel.r);
  if (level === 'series') return out;
  out.push('instances', sel.i);
  return out;
}

function pathString(path: PathPart[]): string {
  return path.map((p, k) => (typeof p === 'number' ? `[${p}]` : k === 0 ? p : `.${p}`)).join('');
}

function normaliseIssue(i: Issue): Issue {
  return { ...i, path: (i.path || '').replace(/^(body\.)?spec\.?/, '').replace(/^\$\.?/, '') };
}

function selFromIssue(path: string): Sel | null {
  const m = /^patients\[(\d+)\](?:\.studies\[(\d+)\](?:\.series\[(\d+)\](?:\.instances\[(\d+)\])?)?)?/.exec(path);
  if (!m) return { level: 'spec', p: 0, s: 0, r: 0, i: 0 };
  const [p, s, r, i] = m.slice(1).map((x) => (x === undefined ? -1 : Number(x)));
  const level: Level = i >= 0 ? 'instance' : r >= 0 ? 'series' : s >= 0 ? 'study' : 'patient';
  return { level, p, s: Math.max(s, 0), r: Math.max(r, 0), i: Math.max(i, 0) };
}

const LEVEL_CHILD: Record<Level, { key: string; def: string } | null> = {
  spec: { key: 'patients', def: 'PatientSpec' },
  patient: { key: 'studies', def: 'StudySpec' },
  study: { key: 'series', def: 'SeriesSpec' },
  series: { key: 'instances', def: 'InstanceSpec' },
  instance: null,
};

function download(text: string, filename: string, type: string) {
  const blob = new Blob([text], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function describe(level: Level, node: Obj, n: number): string {
  switch (level) {
    case 'patient':
      return [node.name, node.id].filter(Boolean).join(' · ');
    case 'study':
      return [node.role ?? 'current', node.date, node.iod].filter(Boolean).join(' · ');
    case 'series':
      return [
        Array.isArray(node.views) ? (node.views as string[]).join(' ') : null,
        node.count !== undefined && node.count !== null ? `×${node.count}` : null,
        node.iod,
        node.description,
      ]
        .filter(Boolean)
        .join(' · ');
    case 'instance':
      return [node.view, node.file_name, node.skip_writing ? 'not written' : null].filter(Boolean).join(' · ') || `#${n}`;
    default:
      return '';
  }
}

export default function Wizard({ info }: { info: Info | null }) {
  const report = useReportError();
  const [schema, setSchema] = useSticky<JsonSchema | null>('schema', null);
  const [schemaError, setSchemaError] = useState<unknown>(null);
  const [spec, setSpec] = useSticky<Spec>('wizard.spec', NEW_SPEC);
  const [notes, setNotes] = useSticky<string[]>('wizard.notes', []);
  const [sel, setSel] = useSticky<Sel>('wizard.sel', { level: 'study', p: 0, s: 0, r: 0, i: 0 });
  const [validation, setValidation] = useState<ValidateResult | null>(null);
  const [validating, setValidating] = useState(false);
  const [output, setOutput] = useSticky('wizard.output', '');
  const [overwrite, setOverwrite] = useSticky('wizard.overwrite', false);
  const [job, setJob] = useSticky<{ id: string; output: string } | null>('wizard.job', null);
  const [result, setResult] = useSticky<{ output: string; datasets: GeneratedDataset[] } | null>('wizard.result', null);
  const [genError, setGenError] = useState<unknown>(null);
  const [importError, setImportError] = useState<unknown>(null);
  const fileRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (!schema) get<JsonSchema>('/api/spec/schema').then(setSchema, setSchemaError);
  }, [schema, setSchema]);
  useEffect(() => {
    if (info && !output) setOutput(info.output);
  }, [info, output, setOutput]);

  // Live validation (debounced).
  useEffect(() => {
    const ctrl = new AbortController();
    const t = window.setTimeout(() => {
      setValidating(true);
      post<ValidateResult>('/api/spec/validate', { spec })
        .then((r) => setValidation({ ...r, issues: (r.issues || []).map(normaliseIssue) }))
        .catch((err) => {
          if (err instanceof ApiError && err.issues.length)
            setValidation({ ok: false, issues: err.issues.map(normaliseIssue), summary: { patients: 0, studies: 0, series: 0, instances: 0 }, notes: [] });
          else report(err, 'Validating the spec');
        })
        .finally(() => setValidating(false));
    }, 400);
    return () => {
      window.clearTimeout(t);
      ctrl.abort();
    };
  }, [spec, report]);

  const genIssueList = genError instanceof ApiError ? genError.issues.map(normaliseIssue) : [];
  const issues = [...(validation?.issues ?? []), ...genIssueList.filter((i) => /^(patients|defaults|name|seed|uid_root|reference_date)/.test(i.path))];
  const patients = asList(spec.patients);
  const patient = asObj(patients[sel.p]);
  const studies = asList(patient.studies);
  const study = asObj(studies[sel.s]);
  const seriesList = asList(study.series);
  const series = asObj(seriesList[sel.r]);
  const instances = asList(series.instances);

  // Keep the selection inside the spec.
  useEffect(() => {
    const fix = { ...sel };
    const clamp = (n: number, len: number) => (len === 0 ? 0 : Math.min(Math.max(n, 0), len - 1));
    fix.p = clamp(fix.p, patients.length);
    const st = asList(asObj(patients[fix.p]).studies);
    fix.s = clamp(fix.s, st.length);
    const se = asList(asObj(st[fix.s]).series);
    fix.r = clamp(fix.r, se.length);
    const ins = asList(asObj(se[fix.r]).instances);
    fix.i = clamp(fix.i, ins.length);
    const exists =
      fix.level === 'spec' ||
      (fix.level === 'patient' && patients.length > 0) ||
      (fix.level === 'study' && st.length > 0) ||
      (fix.level === 'series' && se.length > 0) ||
      (fix.level === 'instance' && ins.length > 0);
    if (!exists) fix.level = 'spec';
    if (JSON.stringify(fix) !== JSON.stringify(sel)) setSel(fix);
  }, [spec, sel, setSel, patients]);

  const settingsKeys = useMemo(
    () => Object.keys(resolveRef(schema ?? {}, { $ref: '#/$defs/Settings' }).properties ?? {}),
    [schema],
  );

  const DEFS: Record<Level, string> = { spec: '', patient: 'PatientSpec', study: 'StudySpec', series: 'SeriesSpec', instance: 'InstanceSpec' };
  const defFor = (level: Level): JsonSchema => (level === 'spec' ? (schema ?? {}) : { $ref: `#/$defs/${DEFS[level]}` });

  const ownKeys = (level: Level): string[] => {
    const s = resolveRef(schema ?? {}, defFor(level));
    return Object.keys(s.properties ?? {}).filter((k) => !settingsKeys.includes(k));
  };

  const editNode = (level: Level, value: Obj) => setSpec((prev) => (level === 'spec' ? value : (setIn(prev, nodePath(sel, level), value) as Spec)));

  const addChild = (parent: Level) => {
    const child = LEVEL_CHILD[parent]!;
    const parentPath = nodePath(sel, parent);
    const list = asList(getIn(spec, [...parentPath, child.key]));
    const item: Obj =
      child.key === 'patients'
        ? { studies: [{ role: 'current', series: [{}] }] }
        : child.key === 'studies'
          ? { role: list.some((x) => (x.role ?? 'current') === 'current') ? 'prior' : 'current', series: [{}] }
          : {};
    setSpec((prev) => setIn(prev, [...parentPath, child.key], [...list, item]) as Spec);
    const idx = list.length;
    const childLevel: Record<string, Level> = { patients: 'patient', studies: 'study', series: 'series', instances: 'instance' };
    const level: Level = childLevel[child.key];
    setSel((prev) => ({
      ...prev,
      level,
      ...(level === 'patient' ? { p: idx, s: 0, r: 0, i: 0 } : {}),
      ...(level === 'study' ? { s: idx, r: 0, i: 0 } : {}),
      ...(level === 'series' ? { r: idx, i: 0 } : {}),
      ...(level === 'instance' ? { i: idx } : {}),
    }));
  };

  const removeChild = (parent: Level, index: number) => {
    const child = LEVEL_CHILD[parent]!;
    const parentPath = nodePath(sel, parent);
    const list = asList(getIn(spec, [...parentPath, child.key]));
    const next = list.filter((_, k) => k !== index);
    setSpec((prev) => setIn(prev, [...parentPath, child.key], next.length ? next : undefined) as Spec);
  };

  const onImport = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (!file) return;
    setImportError(null);
    try {
      const text = await file.text();
      const answer = await post<ImportResult>('/api/spec/import', { text, filename: file.name });
      setSpec(answer.spec);
      setNotes([`Imported ${file.name}.`, ...(answer.notes || [])]);
      setSel({ level: 'spec', p: 0, s: 0, r: 0, i: 0 });
    } catch (err) {
      setImportError(err);
    } finally {
      if (fileRef.current) fileRef.current.value = '';
    }
  };

  const onExport = async (format: 'yaml' | 'json') => {
    try {
      const answer = await post<ExportResult>('/api/spec/export', { spec, format });
      const base = typeof spec.name === 'string' && spec.name ? spec.name : 'spec';
      download(answer.text, `${base}.${format}`, format === 'json' ? 'application/json' : 'application/yaml');
    } catch (err) {
      report(err, `Export ${format.toUpperCase()}`);
    }
  };

  const onExportLegacy = async () => {
    try {
      const answer = await post<ExportResult>('/api/spec/export', { spec, format: 'legacy' });
      download(answer.text, 'power-customize.json', 'application/json');
      setNotes(['Exported power-customize.json (the old config format).', ...(answer.notes || [])]);
    } catch (err) {
      report(err, 'Export old config');
    }
  };

  const generate = async () => {
    setGenError(null);
    setResult(null);
    try {
      const answer = await post<JobAnswer>('/api/generate-spec', { spec, output, overwrite });
      setJob({ id: answer.job.id, output });
    } catch (err) {
      setGenError(err);
    }
  };

  if (schemaError) return <InlineError error={schemaError} />;
  if (!schema) return <p className="muted">Loading the spec schema…</p>;

  const levels: { level: Level; parent: Level; title: string; items: Obj[]; selIndex: number; enabled: boolean }[] = [
    { level: 'patient', parent: 'spec', title: 'Patients', items: patients, selIndex: sel.p, enabled: true },
    { level: 'study', parent: 'patient', title: 'Studies', items: studies, selIndex: sel.s, enabled: patients.length > 0 },
    { level: 'series', parent: 'study', title: 'Series', items: seriesList, selIndex: sel.r, enabled: studies.length > 0 },
    { level: 'instance', parent: 'series', title: 'Instances', items: instances, selIndex: sel.i, enabled: seriesList.length > 0 },
  ];
  const noun: Record<Level, string> = { spec: 'dataset', patient: 'patient', study: 'study', series: 'series', instance: 'instance' };

  const current = sel.level === 'spec' ? spec : asObj(getIn(spec, nodePath(sel)));
  const currentPath = pathString(nodePath(sel));
  const heading =
    sel.level === 'spec'
      ? 'Dataset settings'
      : sel.level === 'patient'
        ? `Patient ${sel.p + 1}`
        : sel.level === 'study'
          ? `Study ${sel.s + 1} of patient ${sel.p + 1}`
          : sel.level === 'series'
            ? `Series ${sel.r + 1} of study ${sel.s + 1}`
            : `Instance ${sel.i + 1} of series ${sel.r + 1}`;
  const summary = validation?.summary;
  const genIssues = genError instanceof ApiError ? genError.issues : [];

  return (
    <section aria-labelledby="wizard-title" className="wizard">
      <div className="page-head">
        <h2 id="wizard-title">Wizard</h2>
        <div className="actions">
          <label className="file-label">
            Import spec file
            <input ref={fileRef} type="file" accept=".yaml,.yml,.json" onChange={onImport} />
          </label>
          <button type="button" onClick={() => onExport('yaml')}>
            Export YAML
          </button>
          <button type="button" onClick={() => onExport('json')}>
            Export JSON
          </button>
          <button type="button" onClick={onExportLegacy} title="The predecessor's power-customize JSON">
            Export old config
          </button>
          <button
            type="button"
            onClick={() => {
              setSpec(NEW_SPEC);
              setNotes([]);
              setSel({ level: 'study', p: 0, s: 0, r: 0, i: 0 });
            }}
          >
            New spec
          </button>
        </div>
      </div>
      <InlineError error={importError} />
      {notes.length > 0 && (
        <div className="notes" role="status" aria-label="Notes">
          <ul>
            {notes.map((n, k) => (
              <li key={k}>{n}</li>
            ))}
          </ul>
          <button type="button" className="small" onClick={() => setNotes([])}>
            Dismiss notes
          </button>
        </div>
      )}

      <div className="validation" aria-live="polite" data-testid="spec-summary">
        {summary && (
          <span>
            {summary.patients} patient{summary.patients === 1 ? '' : 's'} · {summary.studies} stud
            {summary.studies === 1 ? 'y' : 'ies'} · {summary.series} series · {summary.instances} instance
            {summary.instances === 1 ? '' : 's'}
          </span>
        )}{' '}
        {validation &&
          (validation.ok ? (
            <span className="badge outcome-accept">valid</span>
          ) : (
            <span className="badge outcome-reject">
              {issues.length} problem{issues.length === 1 ? '' : 's'}
            </span>
          ))}
        {validating && <span className="muted"> checking…</span>}
      </div>
      {issues.length > 0 && (
        <ul className="issue-list" aria-label="Spec problems">
          {issues.map((i, k) => (
            <li key={k}>
              <button
                type="button"
                className="link-button"
                onClick={() => {
                  const s = selFromIssue(i.path);
                  if (s) setSel(s);
                }}
              >
                <code>{i.path || '(spec)'}</code>
              </button>
              : {i.message}
              {i.suggestion ? ` (did you mean ${i.suggestion}?)` : ''}
            </li>
          ))}
        </ul>
      )}

      <div className="levels">
        <div className="level">
          <h3>Dataset</h3>
          <button
            type="button"
            className={`node${sel.level === 'spec' ? ' selected' : ''}`}
            aria-pressed={sel.level === 'spec'}
            onClick={() => setSel({ ...sel, level: 'spec' })}
          >
            Edit dataset settings
          </button>
          <p className="muted small-text">{String(spec.name ?? 'power_customized_dataset')}</p>
        </div>
        {levels.map((L) => {
          const Noun = noun[L.level].charAt(0).toUpperCase() + noun[L.level].slice(1);
          return (
            <div className="level" key={L.level}>
              <h3>{L.title}</h3>
              {L.enabled ? (
                <>
                  <ol>
                    {L.items.map((item, k) => {
                      const isSel = L.selIndex === k;
                      const isEdit = isSel && sel.level === L.level;
                      const at: Record<string, Partial<Sel>> = { patient: { p: k }, study: { s: k }, series: { r: k }, instance: { i: k } };
                      const prefix = pathString(nodePath({ ...sel, ...at[L.level] }, L.level));
                      const bad = issues.some((i) => i.path === prefix || i.path.startsWith(prefix + '.') || i.path.startsWith(prefix + '['));
                      return (
                        <li key={k} className={`${isSel ? 'on-path' : ''}${isEdit ? ' selected' : ''}`}>
                          <button
                            type="button"
                            className="node"
                            aria-pressed={isEdit}
                            aria-label={`Edit ${noun[L.level]} ${k + 1}`}
                            onClick={() =>
                              setSel((prev) => ({
                                ...prev,
                                level: L.level,
                                ...(L.level === 'patient' ? { p: k, s: 0, r: 0, i: 0 } : {}),
                                ...(L.level === 'study' ? { s: k, r: 0, i: 0 } : {}),
                                ...(L.level === 'series' ? { r: k, i: 0 } : {}),
                                ...(L.level === 'instance' ? { i: k } : {}),
                              }))
                            }
                          >
                            {Noun} {k + 1}
                            {bad && <span className="issue-dot" aria-hidden="true"> ⚠</span>}
                          </button>
                          <span className="node-desc">{describe(L.level, item, k + 1)}</span>
                          <button
                            type="button"
                            className="small danger"
                            aria-label={`Remove ${noun[L.level]} ${k + 1}`}
                            title={`Remove ${noun[L.level]} ${k + 1}`}
                            onClick={() => removeChild(L.parent, k)}
                          >
                            ✕
                          </button>
                        </li>
                      );
                    })}
                  </ol>
                  {L.items.length === 0 && (
                    <p className="muted small-text">
                      {L.level === 'instance'
                        ? 'None: the series makes its instances from views / count.'
                        : L.level === 'patient'
                          ? 'None: one synthetic patient by default.'
                          : 'None: the default applies.'}
                    </p>
                  )}
                  <button type="button" className="small" onClick={() => addChild(L.parent)}>
                    Add {noun[L.level]}
                  </button>
                </>
              ) : (
                <p className="muted small-text">Add a {noun[levels[levels.indexOf(L) - 1].level]} first.</p>
              )}
            </div>
          );
        })}
      </div>

      <section className="editor" aria-labelledby="editor-title">
        <h3 id="editor-title">{heading}</h3>
        <SchemaForm
          key={`${sel.level}-${currentPath}`}
          root={schema}
          schema={defFor(sel.level)}
          value={current}
          path={currentPath}
          issues={issues}
          exclude={['patients', 'studies', 'series', 'instances']}
          order={ownKeys(sel.level)}
          onChange={(v) => {
            if (sel.level === 'spec') {
              // keep the patients (not edited here)
              setSpec((prev) => ({ ...v, ...(prev.patients !== undefined ? { patients: prev.patients } : {}) }));
            } else {
              const child = LEVEL_CHILD[sel.level];
              const keep = child && current[child.key] !== undefined ? { [child.key]: current[child.key] } : {};
              editNode(sel.level, { ...v, ...keep });
            }
          }}
        />
      </section>

      <section className="generate-panel" aria-labelledby="wizard-generate-title">
        <h3 id="wizard-generate-title">Generate this spec</h3>
        <div className="form-grid">
          <div className="field">
            <label htmlFor="wiz-output">Output folder</label>
            <input
              id="wiz-output"
              type="text"
              value={output}
              aria-invalid={genIssues.some((i) => i.path === 'output') || undefined}
              onChange={(e) => setOutput(e.target.value)}
            />
            {genIssues
              .filter((i) => i.path === 'output')
              .map((i, k) => (
                <div key={k} className="field-error">
                  {i.message}
                </div>
              ))}
          </div>
          <div className="field field-check">
            <label className="check">
              <input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} /> Overwrite
              existing dataset
            </label>
          </div>
        </div>
        <InlineError error={genError} />
        <button type="button" className="primary" onClick={generate} disabled={!output}>
          Generate
        </button>
        {job && (
          <JobProgress
            key={job.id}
            jobId={job.id}
            label="Generate progress"
            onDone={(res) => {
              setResult({ output: job.output, datasets: Array.isArray(res) ? res : [] });
              setJob(null);
            }}
            onFailed={(msg) => report(msg, 'Generate failed')}
          />
        )}
        {result && (
          <div className="wizard-result">
            <h4>Generated</h4>
            <ul>
              {result.datasets.map((d) => (
                <li key={d.path || d.name}>
                  {d.name}: {d.files} files in <code>{d.path}</code>
                </li>
              ))}
            </ul>
            <Thumbnails output={result.output} datasets={result.datasets} />
          </div>
        )}
      </section>

      <section aria-labelledby="raw-title">
        <h3 id="raw-title">Raw JSON</h3>
        <pre className="raw" data-testid="spec-json" aria-label="Spec as JSON" tabIndex={0}>
          {JSON.stringify(spec, null, 2)}
        </pre>
      </section>
    </section>
  );
}
