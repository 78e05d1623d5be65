import { useEffect, useRef, useState } from 'react';
import { buildUrl, get } from '../api';
import type { Job } from '../types';

interface StageInfo {
  stage: string;
  done: number | null;
  total: number | null;
  summary: string | null;
}

interface Props {
  jobId: string;
  label?: string;
  onDone: (result: Job['result']) => void;
  onFailed: (error: string) => void;
  /** The job was cancelled (POST /api/jobs/{id}/cancel): a run's result says what was done. */
  onCancelled?: (result: Job['result']) => void;
}

function parse(data: string): Record<string, unknown> {
  try {
    const v = JSON.parse(data) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Follows a job: server-sent events from /api/jobs/{id}/events (authorised by the cookie), falling back
 * to polling /api/jobs/{id} when the stream is not available. One progress bar for the current
 * stage, a line per stage with its summary.
 */
export default function JobProgress({ jobId, label = 'Job progress', onDone, onFailed, onCancelled }: Props) {
  const [stages, setStages] = useState<StageInfo[]>([]);
  const [state, setState] = useState<'running' | 'cancelling' | 'done' | 'failed' | 'cancelled'>('running');
  const [error, setError] = useState<string | null>(null);
  const callbacks = useRef({ onDone, onFailed, onCancelled });
  callbacks.current = { onDone, onFailed, onCancelled };

  useEffect(() => {
    let finished = false;
    let source: EventSource | null = null;
    let timer: number | undefined;
    let gotEvent = false;

    const upsert = (stage: string, patch: Partial<StageInfo>) =>
      setStages((prev) => {
        const i = prev.findIndex((s) => s.stage === stage);
        if (i < 0) return [...prev, { stage, done: null, total: null, summary: null, ...patch }];
        const next = prev.slice();
        next[i] = { ...next[i], ...patch };
        return next;
      });

    const finish = (ok: boolean | 'cancelled', payload: unknown) => {
      if (finished) return;
      finished = true;
      source?.close();
      window.clearTimeout(timer);
      if (ok === 'cancelled') {
        setState('cancelled');
        if (callbacks.current.onCancelled) callbacks.current.onCancelled(payload as Job['result']);
        else callbacks.current.onFailed('cancelled');
      } else if (ok) {
        setState('done');
        callbacks.current.onDone(payload as Job['result']);
      } else {
        const message = typeof payload === 'string' && payload ? payload : 'the job failed';
        setState('failed');
        setError(message);
        callbacks.current.onFailed(message);
      }
    };

    const applyEvent = (type: string, data: Record<string, unknown>) => {
      const stage = typeof data.stage === 'string' ? data.stage : null;
      if (type === 'progress' && stage) upsert(stage, { done: num(data.done), total: num(data.total) });
      else if (type === 'stage' && stage)
        upsert(stage, { summary: typeof data.summary === 'string' ? data.summary : String(data.summary ?? '') });
      else if (type === 'done') finish(true, data.result);
      else if (type === 'failed') finish(false, data.error);
      else if (type === 'cancelled') finish('cancelled', data.result);
      else if (type === 'cancelling') setState((s) => (s === 'running' ? 'cancelling' : s));
    };

    const poll = async (repeat = true) => {
      if (finished) return;
      try {
        const job = await get<Job>(`/api/jobs/${encodeURIComponent(jobId)}`);
        // Rebuild the stages from the job's events, then its current stage.
        const rebuilt: StageInfo[] = [];
        const put = (stage: string, patch: Partial<StageInfo>) => {
          const i = rebuilt.findIndex((s) => s.stage === stage);
          if (i < 0) rebuilt.push({ stage, done: null, total: null, summary: null, ...patch });
          else rebuilt[i] = { ...rebuilt[i], ...patch };
        };
        for (const { event, data } of job.events) {
          const stage = typeof data.stage === 'string' ? data.stage : null;
          if (!stage) continue;
          if (event === 'stage') put(stage, { summary: String(data.summary ?? '') });
          else if (event === 'progress') put(stage, { done: num(data.done), total: num(data.total) });
        }
        put(job.stage, { done: job.done, total: job.total });
        setStages(rebuilt);
        if (job.state === 'done') return finish(true, job.result);
        if (job.state === 'failed') return finish(false, job.error);
        if (job.state === 'cancelled') return finish('cancelled', job.result);
        if (job.cancel_requested) setState((s) => (s === 'running' ? 'cancelling' : s));
      } catch (err) {
        if (finished) return;
        const message = err instanceof Error ? err.message : String(err);
        if ((err as { status?: number }).status === 404 || (err as { status?: number }).status === 401)
          return finish(false, message);
      }
      if (repeat) timer = window.setTimeout(() => poll(true), 1000);
    };

    const fallback = () => {
      source?.close();
      source = null;
      if (!finished) {
        window.clearTimeout(timer);
        poll();
      }
    };

    if (typeof EventSource !== 'undefined') {
      try {
        source = new EventSource(buildUrl(`/api/jobs/${encodeURIComponent(jobId)}/events`));
        for (const type of ['progress', 'stage', 'done', 'failed', 'cancelling', 'cancelled']) {
          source.addEventListener(type, (e) => {
            gotEvent = true;
            applyEvent(type, parse((e as MessageEvent).data));
          });
        }
        source.onerror = () => {
          // The stream ended or is not available: the job's state tells the rest.
          fallback();
        };
        // Also check the job once: a job that finished before the stream opened.
        timer = window.setTimeout(() => {
          if (!gotEvent) poll(false);
        }, 3000);
      } catch {
        fallback();
      }
    } else {
      poll();
    }
    return () => {
      finished = true;
      source?.close();
      window.clearTimeout(timer);
    };
  }, [jobId]);

  const current = stages.length ? stages[stages.length - 1] : null;
  const pct =
    state === 'done'
      ? 100
      : current && current.total
        ? Math.min(100, Math.round(((current.done ?? 0) / current.total) * 100))
        : 0;
  const text =
    state === 'done'
      ? 'done'
      : state === 'failed'
        ? 'failed'
        : state === 'cancelled'
          ? 'cancelled'
          : state === 'cancelling'
            ? `cancelling${current ? ` (${current.stage})` : ''}…`
            : current
          ? `${current.stage}${current.total ? `: ${current.done ?? 0} of ${current.total}` : ''}`
          : 'starting…';

  return (
    <section className="job" aria-label={label}>
      <div className="job-line">
        <div
          className={`progress progress-${state}`}
          role="progressbar"
          aria-label={label}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={pct}
          aria-valuetext={`${pct}% — ${text}`}
        >
          <div className="progress-fill" style={{ width: `${pct}%` }} />
        </div>
        <span className="job-status" aria-live="polite">
          {text}
        </span>
      </div>
      {stages.length > 0 && (
        <ol className="stages">
          {stages.map((s) => (
            <li key={s.stage} data-testid={`stage-${s.stage}`}>
              <strong>{s.stage}</strong>
              {s.total ? ` ${s.done ?? 0}/${s.total}` : ''}
              {s.summary ? ` — ${s.summary}` : ''}
            </li>
          ))}
        </ol>
      )}
      {error && (
        <div className="alert alert-error" role="alert">
          Job failed: {error}
        </div>
      )}
    </section>
  );
}
