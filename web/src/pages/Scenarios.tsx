import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, formatBytes, get, post } from '../api';
import { InlineError, useReportError } from '../components/Alerts';
import GeneratePanel, { type Generated } from '../components/GeneratePanel';
import { FieldIssues, issuesFor } from '../components/Issues';
import Thumbnails from '../components/Thumbnails';
import { useSticky } from '../state';
import type { Info, JobAnswer, ScenarioCard, ScenarioSpec, ScenarioSummary, SiteProfile, Spec } from '../types';
import { ImageSizeField } from '../components/ImageSizeField';


function show(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The scenario list, loaded once per session. */
export function useScenarios(): { scenarios: ScenarioSummary[] | null; error: unknown } {
  const [scenarios, setScenarios] = useSticky<ScenarioSummary[] | null>('scenarios.list', null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (scenarios) return;
    get<ScenarioSummary[]>('/api/scenarios').then(setScenarios, setError);
  }, [scenarios, setScenarios]);
  return { scenarios, error };
}

interface CardProps {
  name: string;
  selected: boolean;
  onToggle: (on: boolean) => void;
  params: Record<string, string>;
  setParam: (name: string, value: string | undefined) => void;
  sites: SiteProfile[];
  imageSize: string;
  onCustomize: (spec: Spec) => void;
}

function Card({ name, selected, onToggle, params, setParam, sites, imageSize, onCustomize }: CardProps) {
  const [card, setCard] = useState<ScenarioCard | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const report = useReportError();
  useEffect(() => {
    const ctrl = new AbortController();
    setCard(null);
    setError(null);
    get<ScenarioCard>(`/api/scenarios/${encodeURIComponent(name)}`, undefined, ctrl.signal).then(setCard, (err) => {
      if (!(err instanceof DOMException)) setError(err);
    });
    return () => ctrl.abort();
  }, [name]);

  if (error) return <InlineError error={error} />;
  if (!card) return <p className="muted">Loading {name}…</p>;

  const paramNames = Object.keys(card.parameters).filter((p) => p !== 'image_size');
  const customize = async () => {
    setBusy(true);
    try {
      const set = paramNames
        .filter((p) => params[p] !== undefined && params[p] !== '')
        .map((p) => `${p}=${params[p]}`);
      if (imageSize && card.parameters['image_size']) set.push(`image_size=${imageSize}`);
      const answer = await get<ScenarioSpec>(`/api/scenarios/${encodeURIComponent(name)}/spec`, { set });
      onCustomize(answer.spec);
    } catch (err) {
      report(err, `Loading the spec of ${name}`);
    } finally {
      setBusy(false);
    }
  };
  const e = card.expect;
  return (
    <article className="card" aria-labelledby="card-title" data-testid="scenario-card">
      <h3 id="card-title">{card.title}</h3>
      <button type="button" className={selected ? 'small' : 'small primary'} aria-pressed={selected} onClick={() => onToggle(!selected)}>
        {selected ? `Selected for generating: remove ${card.name}` : `Select ${card.name} for generating`}
      </button>
      <p className="muted">
        <code>{card.name}</code> · {card.category}
        {card.tags.length ? ` · ${card.tags.join(', ')}` : ''}
        {card.aliases.length ? ` · also: ${card.aliases.join(', ')}` : ''}
      </p>
      <p>{card.description}</p>
      <h4>What is wrong</h4>
      {card.defects.length ? (
        <ul>
          {card.defects.map((d, i) => (
            <li key={i}>
              <code>{d.at}</code>: {d.what}
              {d.readable === false ? ' (pydicom cannot read the file)' : ''}
            </li>
          ))}
        </ul>
      ) : (
        <p>Nothing: a clean dataset.</p>
      )}
      <h4>Why it happens</h4>
      <p>{card.why || '—'}</p>
      <h4>Expected outcome</h4>
      <ul>
        <li>
          Instances: <strong>{e.default}</strong> by default
          {e.instances && Object.keys(e.instances).length
            ? '; ' + Object.entries(e.instances).map(([k, v]) => `${k} → ${v}`).join(', ')
            : ''}
        </li>
        <li>
          Studies: <strong>{e.study_default}</strong> by default
          {e.studies && Object.keys(e.studies).length
            ? '; ' + Object.entries(e.studies).map(([k, v]) => `${k} → ${v}`).join(', ')
            : ''}
        </li>
        {e.note && <li>{e.note}</li>}
      </ul>
      {card.sources.length > 0 && <p className="muted">Sources: {card.sources.join('; ')}</p>}
      <h4>Parameters</h4>
      <p className="hint">
        Values you change here are used when you generate or customize (for every selected scenario); the image size is
        chosen below.
      </p>
      <div className="form-grid">
        {paramNames.map((p) => {
          const info = card.parameters[p];
          const id = `param-${p.replace(/[^A-Za-z0-9_-]/g, '-')}`;
          const val = params[p] ?? show(info.default);
          return (
            <div className="field" key={p}>
              <label htmlFor={id} title={info.description}>
                {p}
              </label>
              {p === 'site' ? (
                <select id={id} value={val} onChange={(ev) => setParam(p, ev.target.value)}>
                  {!sites.some((s) => s.name === val) && <option value={val}>{val || '(none)'}</option>}
                  {sites.map((s) => (
                    <option key={s.name} value={s.name}>
                      {s.name}
                      {s.description ? ` — ${s.description}` : ''}
                    </option>
                  ))}
                </select>
              ) : (
                <input
                  id={id}
                  type="text"
                  value={val}
                  placeholder={info.default === null ? 'from the seed' : ''}
                  aria-describedby={`${id}-desc`}
                  onChange={(ev) => setParam(p, ev.target.value === show(info.default) ? undefined : ev.target.value)}
                />
              )}
              <small className="hint" id={`${id}-desc`}>
                {info.description}
              </small>
            </div>
          );
        })}
      </div>
      <button type="button" onClick={customize} disabled={busy}>
        Customize this scenario
      </button>
    </article>
  );
}

export default function Scenarios({ info, openInWizard }: { info: Info | null; openInWizard: (spec: Spec, notes?: string[]) => void }) {
  const report = useReportError();
  const { scenarios, error } = useScenarios();
  const [sites, setSites] = useSticky<SiteProfile[]>('sites', []);
  const [search, setSearch] = useSticky('scenarios.search', '');
  const [category, setCategory] = useSticky('scenarios.category', '');
  const [selected, setSelected] = useSticky<string[]>('selection', []);
  const [current, setCurrent] = useSticky<string | null>('scenarios.current', null);
  const [params, setParams] = useSticky<Record<string, string>>('scenarios.params', {});
  const [seed, setSeed] = useSticky<string>('scenarios.seed', '');
  const [imageSize, setImageSize] = useSticky('scenarios.imageSize', 'small');
  const [result, setResult] = useSticky<Generated | null>('scenarios.result', null);
  const [view, setView] = useSticky<'browse' | 'result'>('scenarios.view', 'browse');
  const [genError, setGenError] = useState<unknown>(null);
  // after generating, the results heading takes the focus (screen readers announce it)
  const [focusResult, setFocusResult] = useState(false);
  const resultHeading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focusResult && view === 'result' && resultHeading.current) {
      resultHeading.current.focus();
      setFocusResult(false);
    }
  }, [focusResult, view]);

  useEffect(() => {
    if (!sites.length) get<SiteProfile[]>('/api/sites').then(setSites, (err) => report(err, 'Loading site profiles'));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const categories = useMemo(() => [...new Set((scenarios || []).map((s) => s.category))].sort(), [scenarios]);
  const shown = useMemo(() => {
    const q = search.trim().toLowerCase();
    return (scenarios || []).filter(
      (s) =>
        (!category || s.category === category) &&
        (!q ||
          [s.name, s.title, s.description, ...s.tags, ...s.aliases].some((x) =>
            x.toLowerCase().includes(q),
          )),
    );
  }, [scenarios, search, category]);

  const toggle = (name: string, on: boolean) =>
    setSelected((prev) => (on ? (prev.includes(name) ? prev : [...prev, name]) : prev.filter((n) => n !== name)));
  const allShownSelected = shown.length > 0 && shown.every((s) => selected.includes(s.name));

  const start = (output: string, overwrite: boolean) => {
    setResult(null);
    const p: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p[k] = v;
    p.image_size = imageSize;
    const seedNum = seed.trim() === '' ? null : Number(seed);
    if (seedNum !== null && !Number.isInteger(seedNum))
      throw new ApiError('The seed must be a whole number', 400, [{ path: 'seed', message: 'not a whole number', suggestion: null }]);
    return post<JobAnswer>('/api/generate', { scenarios: selected, params: p, seed: seedNum, output, overwrite });
  };

  if (view === 'result' && result) {
    return (
      <section aria-labelledby="result-title">
        <div className="page-head">
          <h2 id="result-title" tabIndex={-1} ref={resultHeading}>
            Generated datasets
          </h2>
          <button type="button" onClick={() => setView('browse')}>
            Back to scenarios
          </button>
        </div>
        <p>
          In <code>{result.output}</code>:
        </p>
        <table className="data" data-testid="generate-results">
          <thead>
            <tr>
              <th scope="col">Dataset</th>
              <th scope="col">Files</th>
              <th scope="col">Size</th>
              <th scope="col">Folder</th>
            </tr>
          </thead>
          <tbody>
            {result.datasets.map((d) => (
              <tr key={d.path || d.name}>
                <td>{d.name}</td>
                <td>{d.files}</td>
                <td>{formatBytes(d.bytes)}</td>
                <td className="path">{d.path}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <h3>Images</h3>
        <Thumbnails output={result.output} datasets={result.datasets} />
      </section>
    );
  }

  return (
    <section aria-labelledby="scenarios-title">
      <div className="page-head">
        <h2 id="scenarios-title">Scenarios</h2>
        {result && (
          <button type="button" onClick={() => setView('result')}>
            Show last results
          </button>
        )}
      </div>
      {error ? <InlineError error={error} /> : null}
      <div className="toolbar">
        <label>
          Search scenarios{' '}
          <input type="search" value={search} placeholder="name, title, description, tag" onChange={(e) => setSearch(e.target.value)} />
        </label>
        <label>
          Category{' '}
          <select value={category} onChange={(e) => setCategory(e.target.value)}>
            <option value="">All categories</option>
            {categories.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <span className="muted" aria-live="polite">
          {scenarios ? `${shown.length} of ${scenarios.length} shown, ${selected.length} selected` : 'Loading…'}
        </span>
      </div>
      <div className="browser">
        <section className="scenario-list-wrap" aria-label="Scenario list">
          <div className="list-actions">
            <label className="check">
              <input
                type="checkbox"
                checked={allShownSelected}
                onChange={(e) => {
                  const names = shown.map((s) => s.name);
                  setSelected((prev) =>
                    e.target.checked ? [...new Set([...prev, ...names])] : prev.filter((n) => !names.includes(n)),
                  );
                }}
              />{' '}
              Select all shown
            </label>
            {selected.length > 0 && (
              <button type="button" className="small" onClick={() => setSelected([])}>
                Clear selection
              </button>
            )}
          </div>
          {scenarios && shown.length === 0 && (
            <div className="no-match" role="status">
              <p>
                No scenario matches {search.trim() ? `“${search.trim()}”` : 'this filter'}
                {category ? ` in category ${category}` : ''}.
              </p>
              {search.trim() && (
                <button type="button" className="small" onClick={() => setSearch('')}>
                  Clear search
                </button>
              )}
              {category && (
                <button type="button" className="small" onClick={() => setCategory('')}>
                  Show all categories
                </button>
              )}
            </div>
          )}
          <ul className="scenario-list" aria-label="Scenarios">
            {shown.map((s) => (
              <li
                key={s.name}
                data-testid={`scenario-row-${s.name}`}
                className={`scenario-row${current === s.name ? ' current' : ''}`}
                onClick={() => setCurrent(s.name)}
              >
                <input
                  type="checkbox"
                  aria-label={`Select ${s.name}`}
                  checked={selected.includes(s.name)}
                  onClick={(e) => e.stopPropagation()}
                  onChange={(e) => toggle(s.name, e.target.checked)}
                />
                <button
                  type="button"
                  className="row-main link-button"
                  aria-pressed={current === s.name}
                  onClick={(e) => {
                    e.stopPropagation();
                    setCurrent(s.name);
                  }}
                >
                  <span className="row-name">{s.name}</span>
                  <span className="row-title">{s.title}</span>
                </button>
                <span className="badges">
                  <span className="badge">{s.category}</span>
                  {s.expected.map((x) => (
                    <span key={x} className={`badge outcome-${x}`}>
                      {x}
                    </span>
                  ))}
                </span>
              </li>
            ))}
          </ul>
        </section>
        <aside className="card-wrap" aria-label="Scenario card">
          {current ? (
            <Card
              name={current}
              selected={selected.includes(current)}
              onToggle={(on) => toggle(current, on)}
              params={params}
              sites={sites}
              imageSize={imageSize}
              setParam={(k, val) =>
                setParams((prev) => {
                  const n = { ...prev };
                  if (val === undefined) delete n[k];
                  else n[k] = val;
                  return n;
                })
              }
              onCustomize={(spec) => openInWizard(spec, [`Loaded from scenario ${current}.`])}
            />
          ) : (
            <p className="muted">Pick a scenario to see its card.</p>
          )}
        </aside>
      </div>

      <GeneratePanel
        store="scenarios"
        idPrefix="gen"
        title="Generate"
        info={info}
        label={selected.length ? `Generate ${selected.length} selected` : 'Generate (select a scenario first)'}
        ready={selected.length > 0}
        hint={
          selected.length
            ? undefined
            : 'Nothing is selected: tick a scenario’s box in the list, or press “Select … for generating” on its card.'
        }
        overwriteLabel="Overwrite existing datasets"
        start={start}
        error={genError}
        setError={setGenError}
        fields={['scenarios', 'params']}
        onGenerated={(generated) => {
          setResult(generated);
          setView('result');
          setFocusResult(true);
        }}
      >
        <div className="field">
          <label htmlFor="gen-seed">Seed</label>
          <input
            id="gen-seed"
            type="number"
            min={0}
            step={1}
            value={seed}
            placeholder="random"
            aria-invalid={issuesFor(genError, 'seed').length > 0 || undefined}
            onChange={(e) => setSeed(e.target.value)}
          />
          <FieldIssues error={genError} field="seed" />
        </div>
        <ImageSizeField id="gen-size" value={imageSize} onChange={setImageSize} />
      </GeneratePanel>
    </section>
  );
}
