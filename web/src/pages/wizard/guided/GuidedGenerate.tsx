import { useCallback, useEffect, useRef, useState } from 'react';
import { get, post } from '../../../api';
import { ErrorWithIssues, FieldIssues } from '../../../components/Issues';
import JobProgress from '../../../components/JobProgress';
import { useSticky } from '../../../state';
import type { GeneratedDataset, Info, Job, JobAnswer, JobEvent, Spec } from '../../../types';
import GeneratedResult from '../GeneratedResult';
import FolderPicker from './FolderPicker';

/** One line of the log panel for a job event. */
function logLine(e: JobEvent): string {
  const d = e.data;
  if (e.event === 'progress') return `${String(d.stage ?? '')}: ${String(d.done ?? 0)} of ${String(d.total ?? '?')}`;
  if (e.event === 'stage') return `${String(d.stage ?? '')}${d.summary ? ` — ${String(d.summary)}` : ''}`;
  if (e.event === 'done') return 'done';
  if (e.event === 'failed') return `failed: ${String(d.error ?? '')}`;
  return `${e.event} ${JSON.stringify(d)}`;
}

/** The log panel: every event of the job (progress lines collapsed to the latest per stage). */
function JobLog({ jobId, lines }: { jobId: string; lines: string[] }) {
  const [events, setEvents] = useState<JobEvent[]>([]);
  const ref = useRef<HTMLOListElement>(null);
  useEffect(() => {
    let live = true;
    let timer: number | undefined;
    const poll = () =>
      get<Job>(`/api/jobs/${encodeURIComponent(jobId)}`)
        .then((job) => {
          if (!live) return;
          setEvents(job.events);
          if (job.state === 'running') timer = window.setTimeout(poll, 700);
        })
        .catch(() => live && (timer = window.setTimeout(poll, 1500)));
    poll();
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [jobId]);
  const shown: string[] = [...lines];
  let lastProgress: string | null = null;
  for (const e of events) {
    const line = logLine(e);
    const stage = e.event === 'progress' ? String(e.data.stage ?? '') : null;
    if (stage !== null && stage === lastProgress) shown[shown.length - 1] = line;
    else shown.push(line);
    lastProgress = stage;
  }
  useEffect(() => {
    if (ref.current) ref.current.scrollTop = ref.current.scrollHeight;
  }, [shown.length]);
  return (
    <section aria-labelledby="guided-log-title" className="guided-log-wrap">
      <h4 id="guided-log-title">Log</h4>
      <ol className="guided-log" role="log" aria-label="Generate log" data-testid="generate-log" ref={ref} tabIndex={0}>
        {shown.map((l, k) => (
          <li key={k}>{l}</li>
        ))}
      </ol>
    </section>
  );
}

interface Props {
  spec: Spec;
  info: Info | null;
  /** The spec may be generated (valid). */
  ready: boolean;
}

/** Output folder (typed or picked), overwrite, Generate, the job's progress bar and log, then thumbnails. */
export default function GuidedGenerate({ spec, info, ready }: Props) {
  const [output, setOutput] = useSticky('guided.output', '');
  const [overwrite, setOverwrite] = useSticky('guided.overwrite', false);
  const [job, setJob] = useSticky<{ id: string; output: string; started: string } | null>('guided.job', null);
  const [result, setResult] = useSticky<{ output: string; datasets: GeneratedDataset[] } | null>('guided.result', null);
  const [error, setError] = useState<unknown>(null);
  const [picking, setPicking] = useState(false);
  const [starting, setStarting] = useState(false);
  const [failed, setFailed] = useState<string | null>(null);
  const [focusResult, setFocusResult] = useState(false); // right after generating
  const focused = useCallback(() => setFocusResult(false), []);

  useEffect(() => {
    if (info && !output) setOutput(info.output);
  }, [info, output, setOutput]);

  const running = !!job && !result && !failed;

  const generate = async () => {
    setError(null);
    setFailed(null);
    setResult(null);
    setStarting(true);
    try {
      const answer = await post<JobAnswer>('/api/generate-spec', { spec, output, overwrite });
      setJob({ id: answer.job.id, output, started: `Generating ${String(spec.name ?? 'the dataset')} into ${output}` });
    } catch (err) {
      setError(err);
    } finally {
      setStarting(false);
    }
  };

  return (
    <section className="generate-panel" aria-labelledby="guided-generate-title">
      <h3 id="guided-generate-title">Generate</h3>
      <div className="form-grid">
        <div className="field field-wide">
          <label htmlFor="guided-output">Output folder</label>
          <div className="inline-row">
            <input id="guided-output" type="text" value={output} onChange={(e) => setOutput(e.target.value)} />
            <button type="button" onClick={() => setPicking((p) => !p)} aria-expanded={picking}>
              Browse…
            </button>
          </div>
          <FieldIssues error={error} field="output" />
        </div>
        <div className="field field-check">
          <label className="check">
            <input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} /> Overwrite existing
            dataset
          </label>
        </div>
      </div>
      {picking && (
        <FolderPicker
          start={output}
          onPick={(path) => {
            setOutput(path);
            setPicking(false);
          }}
          onClose={() => setPicking(false)}
        />
      )}
      <ErrorWithIssues error={error} />
      <button type="button" className="primary" disabled={!output || !ready || starting || running} onClick={generate}>
        Generate
      </button>
      {job && (
        <>
          <JobProgress
            key={job.id}
            jobId={job.id}
            label="Generate progress"
            onDone={(res) => {
              setResult({ output: job.output, datasets: Array.isArray(res) ? res : [] });
              setFocusResult(true);
            }}
            onFailed={(msg) => setFailed(msg)}
          />
          <JobLog jobId={job.id} lines={[job.started]} />
        </>
      )}
      {result && <GeneratedResult result={result} focus={focusResult} onFocused={focused} testId="guided-result" />}
    </section>
  );
}
