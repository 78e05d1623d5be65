import { Fragment, useCallback, useEffect, useRef, useState } from 'react';
import { buildUrl, get, post } from '../api';
import { InlineError, useReportError } from '../components/Alerts';
import { ErrorWithIssues } from '../components/Issues';
import JobProgress from '../components/JobProgress';
import { useSticky } from '../state';
import RunRecords, { type RecordFilter } from '../components/RunRecords';
import type { Info, Job, JobAnswer, JobRow, PastRun, RunOverview, RunScenarioRow, TargetsAnswer } from '../types';
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

const preExisting = (n: number | undefined) => (n ? `, ${n} already in the target before ingest (not credited)` : '');

/** What the scenarios say no index can show: neither passed nor failed. */
const notObservable = (n: number | undefined) => (n ? `, ${n} not observable on this target` : '');

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Records no verifier could decide, grouped by reason, each naming its verifier(s) and counted once. */
function NotChecked({ row }: { row: RunScenarioRow }) {
  const groups = row.not_checked_groups;
  if (!groups.length) return null;
  const count = groups.reduce((n, g) => n + g.records.length, 0);
  return (
    <>
      <h4>Not checked ({count})</h4>
      <ul className="evidence" data-testid="run-not-checked">
        {groups.map((g) => (
          <li key={`${g.reason}|${g.verifiers.join(',')}`}>
            <strong>{g.verifiers.length ? g.verifiers.join(', ') : 'the verifier'}</strong>
            {g.verifiers.length > 1 ? ' (each)' : ''}: {g.reason} — {plural(g.records.length, 'record')}:{' '}
            <span className="mono small-text">{g.records.join('; ')}</span>
          </li>
        ))}
      </ul>
    </>
  );
}

/** The banner of a run that stopped before checking: what was done, and where its data was kept. */
function Stopped({ overview }: { overview: RunOverview }) {
  const s = overview.summary;
  const checked = s.scenarios - s.scenarios_not_run;
  const kept = typeof overview.run.kept === 'string' ? overview.run.kept : null;
  return (
    <div className="alert alert-error run-stopped" role="alert" data-testid="run-stopped">
      <p>
        <strong>Run {s.interrupted ? 'interrupted' : 'stopped'}</strong>
        {s.stage ? ` during ${s.stage}` : ''}
        {s.interrupted ? ` (${s.signal === 'SIGINT' ? 'cancelled' : (s.signal ?? 'signal')})` : ''}: {checked} of{' '}
        {plural(s.scenarios, 'scenario')} checked, {s.scenarios_not_run} not run.
        {s.error ? ` ${s.error}` : ''}
      </p>
      <p>
        The generated data was kept in <code data-testid="run-kept-folder">{overview.generated ?? overview.folder}</code>
        {kept ? ` (${kept})` : ''}.
      </p>
    </div>
  );
}

const FILTERS: RecordFilter[] = ['all', 'failed', 'not checked'];

const scenarioKept = (r: RunScenarioRow, filter: RecordFilter) => {
  if (filter === 'failed') return r.status === 'fail' || r.status === 'not run';
  if (filter === 'not checked') return r.not_checked_groups.length > 0;
  return true;
};

function Results({ overview, onUseSeed }: { overview: RunOverview; onUseSeed: (seed: number) => void }) {
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const [filter, setFilter] = useState<RecordFilter>('all');
  const s = overview.summary;
  const runId = overview.id;
  const stopped = s.stopped;
  const rows = overview.scenarios.filter((r) => scenarioKept(r, filter));
  const overridden = s.counts.passed_by_override ?? 0;
  return (
    <section aria-labelledby="results-title" className="run-results">
      <h3 id="results-title">Results of run {runId}</h3>
      <p data-testid="run-summary">
        <span className={`badge ${s.passed ? 'outcome-accept' : 'outcome-reject'}`}>
          {s.passed ? 'passed' : stopped ? (s.interrupted ? 'interrupted' : 'stopped') : 'FAILED'}
        </span>{' '}
        {stopped
          ? `${s.scenarios - s.scenarios_not_run} of ${plural(s.scenarios, 'scenario')} checked, ${s.scenarios_failed} failed, ${s.scenarios_not_run} not run`
          : `${plural(s.scenarios, 'scenario')}, ${s.scenarios_failed} failed`}
        {` · ${s.counts.instances ?? 0} instances, ${s.counts.failed ?? 0} failed, ${(s.counts.not_checked ?? 0) + (s.counts.studies_not_checked ?? 0)} not checked`}
        {preExisting(s.counts.pre_existing)}
        {notObservable(s.counts.not_observable)}
        {s.counts.links
          ? ` · ${s.counts.links} link verdicts: ${s.counts.links_passed ?? 0} passed, ${s.counts.links_failed ?? 0} failed, ${s.counts.links_not_checked ?? 0} not checked` +
            (s.counts.links_not_observable ? `, ${s.counts.links_not_observable} not observable` : '')
          : ''}
        {overridden > 0 && (
          <span data-testid="run-overrides-count">{` · ${overridden} passed through the target's overrides`}</span>
        )}
        {' · '}
        <a href={buildUrl(`/api/runs/${encodeURIComponent(runId)}/report.html`)} target="_blank" rel="noopener noreferrer">
          HTML report
        </a>
      </p>
      <RunSeed seed={s.seed} onUse={onUseSeed} />
      {stopped && <Stopped overview={overview} />}
      <fieldset className="record-filter">
        <legend>Show</legend>
        {FILTERS.map((f) => (
          <label key={f} className="inline">
            <input type="radio" name={`record-filter-${runId}`} value={f} checked={filter === f} onChange={() => setFilter(f)} /> {f}
          </label>
        ))}
      </fieldset>
      {rows.length === 0 && <p className="muted">No scenario {filter} in this run.</p>}
      <div className="table-scroll">
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
            {rows.map((r) => {
              const c = r.counts;
              const isOpen = !!open[r.name];
              const detailsId = `run-details-${r.name}`;
              return (
                <Fragment key={r.name}>
                  <tr data-testid={`run-row-${r.name}`} className={r.passed ? 'pass' : 'fail'}>
                    <th scope="row">{r.name}</th>
                    <td>{r.category ?? ''}</td>
                    <td data-testid="run-result">
                      <span className={`badge ${r.passed ? 'outcome-accept' : 'outcome-reject'}`}>
                        {r.passed ? 'pass' : r.status === 'not run' ? 'not run' : 'FAIL'}
                      </span>
                      {r.passed_by_override > 0 && (
                        <div className="small-text" data-testid="run-row-overrides">
                          {r.passed_by_override} through overrides
                        </div>
                      )}
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
                    <td className="first-failure">{r.not_run ?? r.failures?.[0] ?? ''}</td>
                    <td>
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
                        <NotChecked row={r} />
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
                        {r.overrides && Object.keys(r.overrides).length > 0 && (
                          <p className="muted">
                            Target overrides:{' '}
                            {Object.entries(r.overrides)
                              .map(([k, v]) => `${k} → ${v}`)
                              .join(', ')}
                          </p>
                        )}
                        <RunRecords runId={runId} name={r.name} filter={filter} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** The in-page question before a run of the whole library. */
function ConfirmAll({ count, onYes, onNo }: { count: number | null; onYes: () => void; onNo: () => void }) {
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => yes.current?.focus(), []);
  const what = count === null ? 'every scenario of the library' : `all ${count} scenarios of the library`;
  return (
    <div
      className="confirm-box"
      role="alertdialog"
      aria-modal="true"
      aria-labelledby="run-confirm-title"
      aria-describedby="run-confirm-text"
      data-testid="run-confirm"
      onKeyDown={(e) => {
        if (e.key === 'Escape') onNo();
      }}
    >
      <h4 id="run-confirm-title">Run the whole library?</h4>
      <p id="run-confirm-text">
        No scenario or tag is chosen: this run takes {what}. That generates and ingests every one of them and can take a
        long time.
      </p>
      <button ref={yes} type="button" className="primary" onClick={onYes}>
        {count === null ? 'Run every scenario' : `Run all ${count} scenarios`}
      </button>{' '}
      <button type="button" onClick={onNo}>
        Cancel
      </button>
    </div>
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
  const [shown, setShown] = useSticky<RunOverview | null>('runs.shown', null);
  const [loadingId, setLoadingId] = useState<string | null>(null);
  const [params] = useSticky<Record<string, string>>('scenarios.params', {});
  const [confirming, setConfirming] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const [jobScenarios, setJobScenarios] = useState<string[] | null>(null);

  // A reload (or another tab) finds the run still going on the server: follow it again.
  useEffect(() => {
    if (job) return;
    const ctrl = new AbortController();
    get<JobRow[]>('/api/jobs', undefined, ctrl.signal).then(
      (jobs) => {
        const running = jobs.find((j) => j.kind === 'run' && j.state === 'running');
        if (running) {
          setJob(running.id);
          setJobScenarios(running.scenarios);
          setCancelling(running.cancel_requested);
        }
      },
      (err) => {
        if (!(err instanceof DOMException)) reportError(err, 'Listing the running jobs');
      },
    );
    return () => ctrl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

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
      setShown(await get<RunOverview>(`/api/runs/${encodeURIComponent(id)}/overview`));
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

  // the parameters set on the scenario cards (Scenarios tab): the selection is shared, so are they
  const runParams = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== ''));

  const start = async () => {
    setStartError(null);
    setConfirming(false);
    setShown(null);
    try {
      const seedNum = seed.trim() === '' ? null : Number(seed);
      const answer = await post<JobAnswer>('/api/runs', {
        scenarios: selected,
        tags: tags
          .split(/[\s,]+/)
          .map((t) => t.trim())
          .filter(Boolean),
        params: runParams,
        seed: seedNum,
        image_size: imageSize,
        target: target || null,
      });
      setJob(answer.job.id);
      setJobScenarios(answer.job.scenarios);
      setCancelling(false);
    } catch (err) {
      setStartError(err);
    }
  };

  const cancel = async () => {
    if (!job) return;
    setCancelling(true);
    try {
      await post<JobRow>(`/api/jobs/${encodeURIComponent(job)}/cancel`, {});
    } catch (err) {
      setCancelling(false);
      reportError(err, 'Cancelling the run');
    }
  };

  const onDone = async (result: Job['result']) => {
    setJob(null);
    setCancelling(false);
    // a run job's result is the run summary with the run's id (the folder of its reports)
    const id = result && !Array.isArray(result) ? result.id : null;
    loadPast();
    if (id) await openReport(id);
  };

  const noneChosen = selected.length === 0 && !tags.trim();
  const libraryCount = scenarios ? scenarios.length : null;
  const paramList = Object.entries(runParams);

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
        {paramList.length > 0 && (
          <p className="hint" data-testid="run-params">
            Parameters from the Scenarios tab:{' '}
            {paramList.map(([k, v], i) => (
              <Fragment key={k}>
                {i > 0 && ', '}
                <code>
                  {k}={v}
                </code>
              </Fragment>
            ))}
          </p>
        )}
        {noneChosen && (
          <p className="hint">
            No scenario or tag chosen: the run takes every scenario of the library
            {libraryCount !== null ? ` (${libraryCount})` : ''}; you will be asked first.
          </p>
        )}
        <ErrorWithIssues error={startError} />
        {confirming && <ConfirmAll count={libraryCount} onYes={start} onNo={() => setConfirming(false)} />}
        <button type="button" className="primary" onClick={() => (noneChosen ? setConfirming(true) : start())} disabled={!!job || confirming}>
          Start run
        </button>
        {job && (
          <button type="button" className="danger" onClick={cancel} disabled={cancelling}>
            {cancelling ? 'Cancelling…' : 'Cancel run'}
          </button>
        )}
        {info && (
          <span className="muted">
            {' '}
            Runs are kept in <code>{info.runs_dir}</code>
          </span>
        )}
        {job && (
          <>
            {jobScenarios && (
              <p className="muted" data-testid="run-running">
                Running {jobScenarios.length ? plural(jobScenarios.length, 'scenario') : 'a run'}
                {jobScenarios.length > 0 && jobScenarios.length <= 8 ? `: ${jobScenarios.join(', ')}` : ''}
              </p>
            )}
            <JobProgress
              key={job}
              jobId={job}
              label="Run progress"
              onDone={onDone}
              onCancelled={onDone}
              onFailed={(msg) => {
                setJob(null);
                setCancelling(false);
                reportError(msg, 'Run failed');
                loadPast();
              }}
            />
          </>
        )}
      </section>

      {loadingId && <p className="muted">Loading the report of {loadingId}…</p>}
      {shown && <Results overview={shown} onUseSeed={(n) => setSeed(String(n))} />}

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
