import { Fragment, useCallback, useEffect, useState } from 'react';
import { buildUrl, get, post } from '../api';
import { InlineError, useReportError } from '../components/Alerts';
import { ErrorWithIssues } from '../components/Issues';
import JobProgress from '../components/JobProgress';
import { useSticky } from '../state';
import type { Info, Job, JobAnswer, PastRun, RunReport, ScenarioReport, TargetsAnswer } from '../types';
import { useScenarios } from './Scenarios';
import { ImageSizeField } from '../components/ImageSizeField';

/** The run seed (the same seed replays the run: same UIDs), and a button that fills the Seed field with it. */
function RunSeed({ seed, onUse }: { seed: number | null | undefined; onUse: (seed: number) => void }) {
  if (seed === null || seed === undefined) return null;
  return (
    <p>
      Seed <code data-testid="run-seed">{seed}</code>: a run of these scenarios with this seed makes the same UIDs (on
      the command line: <code>dicomfab run … --seed {seed}</code>).{' '}
      <button type="button" className="small" onClick={() => onUse(seed)}>
        Use this seed
      </button>
    </p>
  );
}

/** Records several verifiers checked without passing: each verifier's status and reason. */
function VerifierEvidence({ scenario }: { scenario: ScenarioReport }) {
  const records = [
    ...scenario.instances.map((c) => ({ name: `${c.label} ${c.sop_instance_uid}`, ...c })),
    ...scenario.studies.map((s) => ({ name: `${s.role} study ${s.study_instance_uid}`, ...s })),
  ].filter((r) => r.status !== 'pass' && (r.evidence?.length ?? 0) > 1);
  if (!records.length) return null;
  return (
    <>
      <h4>By verifier</h4>
      <ul className="evidence" data-testid="run-evidence">
        {records.map((r) => (
          <li key={r.name}>
            {r.name}:{' '}
            {r.evidence?.map((e, i) => (
              <Fragment key={e.verifier}>
                {i > 0 && '; '}
                <strong>{e.verifier}</strong> {e.status} ({e.reason})
              </Fragment>
            ))}
          </li>
        ))}
      </ul>
    </>
  );
}

const preExisting = (n: number | undefined) => (n ? `, ${n} already in the target before ingest (not credited)` : '');

/** What the scenarios say no index can show: neither passed nor failed. */
const notObservable = (n: number | undefined) => (n ? `, ${n} not observable on this target` : '');

function Results({ report, runId, onUseSeed }: { report: RunReport; runId: string; onUseSeed: (seed: number) => void }) {
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const s = report.summary;
  return (
    <section aria-labelledby="results-title" className="run-results">
      <h3 id="results-title">Results of run {runId}</h3>
      <p>
        <span className={`badge ${s.passed ? 'outcome-accept' : 'outcome-reject'}`}>{s.passed ? 'passed' : 'FAILED'}</span>{' '}
        {s.scenarios} scenario{s.scenarios === 1 ? '' : 's'}, {s.scenarios_failed} failed
        {` · ${s.counts.instances ?? 0} instances, ${s.counts.failed ?? 0} failed, ${s.counts.not_checked ?? 0} not checked`}
        {preExisting(s.counts.pre_existing)}
        {notObservable(s.counts.not_observable)}
        {s.counts.links
          ? ` · ${s.counts.links} link verdicts: ${s.counts.links_passed ?? 0} passed, ${s.counts.links_failed ?? 0} failed, ${s.counts.links_not_checked ?? 0} not checked` +
            (s.counts.links_not_observable ? `, ${s.counts.links_not_observable} not observable` : '')
          : ''}
        {' · '}
        <a href={buildUrl(`/api/runs/${encodeURIComponent(runId)}/report.html`)} target="_blank" rel="noopener noreferrer">
          HTML report
        </a>
      </p>
      <RunSeed seed={s.seed} onUse={onUseSeed} />
      {s.error && (
        <div className="alert alert-error" role="alert">
          Run stopped: {s.error}
        </div>
      )}
      <table className="data" data-testid="run-results">
        <thead>
          <tr>
            <th scope="col">Scenario</th>
            <th scope="col">Category</th>
            <th scope="col">Result</th>
            <th scope="col">Instances</th>
            <th scope="col">Studies</th>
            <th scope="col">Links</th>
            <th scope="col">First failure</th>
            <th scope="col">
              <span className="sr-only">Details</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {report.scenarios.map((r) => {
            const c = r.counts;
            const isOpen = !!open[r.name];
            const detailsId = `run-details-${r.name}`;
            const hasDetails =
              (r.failures?.length ?? 0) + (r.not_checked?.length ?? 0) + (r.not_observable?.length ?? 0) + (r.links?.length ?? 0) > 0;
            return (
              <Fragment key={r.name}>
                <tr data-testid={`run-row-${r.name}`} className={r.passed ? 'pass' : 'fail'}>
                  <th scope="row">{r.name}</th>
                  <td>{r.category ?? ''}</td>
                  <td data-testid="run-result">
                    <span className={`badge ${r.passed ? 'outcome-accept' : 'outcome-reject'}`}>{r.passed ? 'pass' : 'FAIL'}</span>
                  </td>
                  <td>
                    {c.passed ?? 0}/{c.instances ?? 0} passed
                    {c.failed ? `, ${c.failed} failed` : ''}
                    {c.not_checked ? `, ${c.not_checked} not checked` : ''}
                    {c.pre_existing ? `, ${c.pre_existing} pre-existing` : ''}
                    {c.not_observable ? `, ${c.not_observable} not observable` : ''}
                  </td>
                  <td>
                    {c.studies ?? 0}
                    {c.studies_failed ? `, ${c.studies_failed} failed` : ''}
                    {c.studies_not_checked ? `, ${c.studies_not_checked} not checked` : ''}
                    {c.studies_not_observable ? `, ${c.studies_not_observable} not observable` : ''}
                  </td>
                  <td data-testid="run-links">
                    {c.links ? `${c.links_passed ?? 0}/${c.links} linked as expected` : ''}
                    {c.links_not_checked ? `, ${c.links_not_checked} not checked` : ''}
                    {c.links_not_observable ? `, ${c.links_not_observable} not observable` : ''}
                  </td>
                  <td className="first-failure">{r.failures?.[0] ?? ''}</td>
                  <td>
                    {hasDetails && (
                      <button
                        type="button"
                        className="small"
                        aria-expanded={isOpen}
                        aria-controls={detailsId}
                        aria-label={`Details of ${r.name}`}
                        onClick={() => setOpen((o) => ({ ...o, [r.name]: !o[r.name] }))}
                      >
                        {isOpen ? 'Hide' : 'Details'}
                      </button>
                    )}
                  </td>
                </tr>
                {isOpen && (
                  <tr id={detailsId} className="details-row">
                    <td colSpan={8}>
                      {r.failures?.length > 0 && (
                        <>
                          <h4>Failures</h4>
                          <pre className="diff">{r.failures.join('\n')}</pre>
                        </>
                      )}
                      {r.not_checked?.length > 0 && (
                        <>
                          <h4>Not checked</h4>
                          <pre className="diff">{r.not_checked.join('\n')}</pre>
                        </>
                      )}
                      {r.not_observable && r.not_observable.length > 0 && (
                        <>
                          <h4>Not observable on this target</h4>
                          <pre className="diff" data-testid="run-not-observable">
                            {r.not_observable.join('\n')}
                          </pre>
                        </>
                      )}
                      {r.links && r.links.length > 0 && (
                        <>
                          <h4>Link verdicts</h4>
                          <pre className="diff" data-testid="run-link-verdicts">
                            {r.links.join('\n')}
                          </pre>
                        </>
                      )}
                      <VerifierEvidence scenario={r} />
                      {r.overrides && Object.keys(r.overrides).length > 0 && (
                        <p className="muted">
                          Target overrides:{' '}
                          {Object.entries(r.overrides)
                            .map(([k, v]) => `${k} → ${v}`)
                            .join(', ')}
                        </p>
                      )}
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

export default function Runs({ info }: { info: Info | null }) {
  const reportError = useReportError();
  const { scenarios } = useScenarios();
  const [targets, setTargets] = useSticky<TargetsAnswer | null>('targets', null);
  const [target, setTarget] = useSticky('runs.target', 'embedded');
  const [selected, setSelected] = useSticky<string[]>('selection', []);
  const [tags, setTags] = useSticky('runs.tags', '');
  const [pick, setPick] = useState('');
  const [imageSize, setImageSize] = useSticky('runs.imageSize', 'small');
  const [seed, setSeed] = useSticky('runs.seed', '');
  const [job, setJob] = useSticky<string | null>('runs.job', null);
  const [startError, setStartError] = useState<unknown>(null);
  const [past, setPast] = useState<PastRun[] | null>(null);
  const [pastError, setPastError] = useState<unknown>(null);
  const [shown, setShown] = useSticky<{ id: string; report: RunReport } | null>('runs.shown', null);
  const [loadingId, setLoadingId] = useState<string | null>(null);

  useEffect(() => {
    if (!targets) get<TargetsAnswer>('/api/targets').then(setTargets, (err) => reportError(err, 'Loading targets'));
  }, [targets, setTargets, reportError]);

  const loadPast = useCallback(() => {
    get<PastRun[]>('/api/runs').then(
      (runs) => {
        setPast(runs);
        setPastError(null);
      },
      setPastError,
    );
  }, []);
  useEffect(loadPast, [loadPast]);

  const targetList = targets?.targets ?? [];

  const openReport = async (id: string) => {
    setLoadingId(id);
    try {
      const report = await get<RunReport>(`/api/runs/${encodeURIComponent(id)}/report`);
      setShown({ id, report });
    } catch (err) {
      reportError(err, `Report of run ${id}`);
    } finally {
      setLoadingId(null);
    }
  };

  const addPick = () => {
    const names = pick
      .split(/[\s,]+/)
      .map((n) => n.trim())
      .filter(Boolean);
    if (!names.length) return;
    const known = new Set((scenarios || []).map((s) => s.name));
    const unknown = scenarios ? names.filter((n) => !known.has(n)) : [];
    if (unknown.length) {
      reportError(`unknown scenario${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, 'Scenarios');
    }
    setSelected((prev) => [...new Set([...prev, ...names.filter((n) => !unknown.includes(n))])]);
    setPick('');
  };

  const start = async () => {
    setStartError(null);
    setShown(null);
    try {
      const seedNum = seed.trim() === '' ? null : Number(seed);
      const answer = await post<JobAnswer>('/api/runs', {
        scenarios: selected,
        tags: tags
          .split(/[\s,]+/)
          .map((t) => t.trim())
          .filter(Boolean),
        params: {},
        seed: seedNum,
        image_size: imageSize,
        target: target || null,
      });
      setJob(answer.job.id);
    } catch (err) {
      setStartError(err);
    }
  };

  const onDone = async (result: Job['result']) => {
    setJob(null);
    // a run job's result is the run summary with the run's id (the folder of its reports)
    const id = result && !Array.isArray(result) ? result.id : null;
    loadPast();
    if (id) await openReport(id);
  };

  const noneChosen = selected.length === 0 && !tags.trim();

  return (
    <section aria-labelledby="runs-title">
      <h2 id="runs-title">Runs</h2>
      <section className="generate-panel" aria-labelledby="new-run-title">
        <h3 id="new-run-title">New run</h3>
        <div className="form-grid">
          <div className="field">
            <label htmlFor="run-target">Target</label>
            <select id="run-target" value={target} onChange={(e) => setTarget(e.target.value)}>
              {!targetList.some((t) => t.name === target) && <option value={target}>{target}</option>}
              {targetList.map((t) => (
                <option key={t.name} value={t.name}>
                  {t.name}
                  {t.description ? ` — ${t.description}` : ''}
                </option>
              ))}
            </select>
          </div>
          <ImageSizeField id="run-size" value={imageSize} onChange={setImageSize} />
          <div className="field">
            <label htmlFor="run-seed">Seed</label>
            <input id="run-seed" type="number" min={0} step={1} value={seed} placeholder="random" onChange={(e) => setSeed(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="run-tags">Tags</label>
            <input
              id="run-tags"
              type="text"
              value={tags}
              placeholder="e.g. prior, bits"
              aria-describedby="run-tags-hint"
              onChange={(e) => setTags(e.target.value)}
            />
            <small className="hint" id="run-tags-hint">
              Every scenario with one of these tags (as well as the chosen ones).
            </small>
          </div>
        </div>
        <div className="field">
          <label htmlFor="run-pick">Add scenario</label>
          <div className="inline-row">
            <input
              id="run-pick"
              type="text"
              list="run-scenario-names"
              value={pick}
              placeholder="scenario name"
              onChange={(e) => setPick(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter') {
                  e.preventDefault();
                  addPick();
                }
              }}
            />
            <datalist id="run-scenario-names">
              {(scenarios || []).map((s) => (
                <option key={s.name} value={s.name}>
                  {s.title}
                </option>
              ))}
            </datalist>
            <button type="button" onClick={addPick}>
              Add
            </button>
            {selected.length > 0 && (
              <button type="button" className="small" onClick={() => setSelected([])}>
                Clear scenarios
              </button>
            )}
          </div>
          <small className="hint">The selection is shared with the Scenarios tab.</small>
        </div>
        <ul className="chips" aria-label="Chosen scenarios">
          {selected.map((n) => (
            <li key={n} className="chip">
              {n}{' '}
              <button
                type="button"
                className="chip-remove"
                aria-label={`Remove ${n}`}
                onClick={() => setSelected((prev) => prev.filter((x) => x !== n))}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
        {noneChosen && <p className="hint">No scenario or tag chosen: the run takes every scenario of the library.</p>}
        <ErrorWithIssues error={startError} />
        <button type="button" className="primary" onClick={start} disabled={!!job}>
          Start run
        </button>
        {info && (
          <span className="muted">
            {' '}
            Runs are kept in <code>{info.runs_dir}</code>
          </span>
        )}
        {job && (
          <JobProgress
            key={job}
            jobId={job}
            label="Run progress"
            onDone={onDone}
            onFailed={(msg) => {
              setJob(null);
              reportError(msg, 'Run failed');
              loadPast();
            }}
          />
        )}
      </section>

      {loadingId && <p className="muted">Loading the report of {loadingId}…</p>}
      {shown && <Results report={shown.report} runId={shown.id} onUseSeed={(n) => setSeed(String(n))} />}

      <section aria-labelledby="past-title">
        <div className="page-head">
          <h3 id="past-title">Past runs</h3>
          <button type="button" className="small" onClick={loadPast}>
            Refresh
          </button>
        </div>
        <InlineError error={pastError} />
        {past && past.length === 0 && <p className="muted">No runs yet.</p>}
        {past && past.length > 0 && (
          <table className="data" data-testid="past-runs">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Started</th>
                <th scope="col">Target</th>
                <th scope="col">Result</th>
                <th scope="col">Scenarios</th>
                <th scope="col">Report</th>
              </tr>
            </thead>
            <tbody>
              {past.map((r) => (
                <tr key={r.id} data-testid={`past-run-${r.id}`}>
                  <th scope="row" className="mono">
                    {r.id}
                  </th>
                  <td>{r.started ?? ''}</td>
                  <td>{r.target ?? ''}</td>
                  <td>
                    {r.error ? (
                      <span className="badge outcome-reject" title={r.error}>
                        stopped
                      </span>
                    ) : r.passed === null || r.passed === undefined ? (
                      ''
                    ) : (
                      <span className={`badge ${r.passed ? 'outcome-accept' : 'outcome-reject'}`}>{r.passed ? 'pass' : 'FAIL'}</span>
                    )}
                    {r.error && <div className="small-text">{r.error}</div>}
                  </td>
                  <td>
                    {r.scenarios ?? ''}
                    {r.scenarios_failed ? ` (${r.scenarios_failed} failed)` : ''}
                  </td>
                  <td className="nowrap">
                    <a
                      href={buildUrl(`/api/runs/${encodeURIComponent(r.id)}/report.html`)}
                      target="_blank"
                      rel="noopener noreferrer"
                      aria-label={`HTML report of run ${r.id}`}
                    >
                      HTML report
                    </a>{' '}
                    <button
                      type="button"
                      className="small"
                      aria-label={`View results of run ${r.id}`}
                      onClick={() => openReport(r.id)}
                      disabled={loadingId === r.id}
                    >
                      View results
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </section>
  );
}
