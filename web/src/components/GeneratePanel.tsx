import { useEffect, useState, type ReactNode } from 'react';
import { useSticky } from '../state';
import type { GeneratedDataset, Info, JobAnswer } from '../types';
import { ErrorWithIssues, FieldIssues, issuesFor } from './Issues';
import JobProgress from './JobProgress';

/** What a generate job wrote, and where. */
export interface Generated {
  output: string;
  datasets: GeneratedDataset[];
}

interface Props {
  /** Where the panel keeps its output folder, overwrite flag and running job (`scenarios`, `wizard`). */
  store: string;
  /** Prefix of the controls' ids. */
  idPrefix: string;
  title: string;
  info: Info | null;
  /** The button's text, and whether it may be pressed (the output folder must be set too). */
  label: string;
  ready?: boolean;
  /** Says what to do while the button is disabled (e.g. nothing selected yet). */
  hint?: string;
  overwriteLabel: string;
  /** Starts the job: POST /api/generate or /api/generate-spec. */
  start: (output: string, overwrite: boolean) => Promise<JobAnswer>;
  /** The error of the last start, kept by the page (its own fields show their issues too). */
  error: unknown;
  setError: (error: unknown) => void;
  /** The request fields of the page's own controls, whose issues show under the form. */
  fields?: string[];
  onGenerated: (result: Generated) => void;
  /** More fields of the form (seed, image size…). */
  children?: ReactNode;
}

/** The generate form of the Scenarios and Wizard pages: output folder, overwrite, the button, the job's progress. */
export default function GeneratePanel(props: Props) {
  const { store, idPrefix, info, error, setError, onGenerated } = props;
  const [output, setOutput] = useSticky(`${store}.output`, '');
  const [overwrite, setOverwrite] = useSticky(`${store}.overwrite`, false);
  const [job, setJob] = useSticky<{ id: string; output: string } | null>(`${store}.job`, null);
  const [starting, setStarting] = useState(false);

  useEffect(() => {
    if (info && !output) setOutput(info.output);
  }, [info, output, setOutput]);

  const generate = async () => {
    setError(null);
    setStarting(true);
    try {
      const answer = await props.start(output, overwrite);
      setJob({ id: answer.job.id, output });
    } catch (err) {
      setError(err);
    } finally {
      setStarting(false);
    }
  };

  const outputId = `${idPrefix}-output`;
  const outputBad = issuesFor(error, 'output').length > 0;
  return (
    // id="generate": the target of the "Skip to Generate" link (App.tsx); one panel per page
    <section className="generate-panel" id="generate" tabIndex={-1} aria-labelledby={`${idPrefix}-generate-title`}>
      <h3 id={`${idPrefix}-generate-title`}>{props.title}</h3>
      <div className="form-grid">
        <div className="field">
          <label htmlFor={outputId}>Output folder</label>
          <input
            id={outputId}
            type="text"
            value={output}
            aria-invalid={outputBad || undefined}
            aria-describedby={outputBad ? `${outputId}-err` : undefined}
            onChange={(e) => setOutput(e.target.value)}
          />
          <FieldIssues error={error} field="output" id={`${outputId}-err`} />
        </div>
        {props.children}
        <div className="field field-check">
          <label className="check">
            <input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} />{' '}
            {props.overwriteLabel}
          </label>
          <FieldIssues error={error} field="overwrite" />
        </div>
      </div>
      {(props.fields ?? []).map((f) => (
        <FieldIssues key={f} error={error} field={f} />
      ))}
      <ErrorWithIssues error={error} fields={['output', 'overwrite', ...(props.fields ?? [])]} />
      <button
        type="button"
        className="primary"
        disabled={!output || props.ready === false || starting}
        aria-describedby={props.hint ? `${idPrefix}-generate-hint` : undefined}
        onClick={generate}
      >
        {props.label}
      </button>
      {props.hint && (
        <p className="hint" id={`${idPrefix}-generate-hint`}>
          {props.hint}
        </p>
      )}
      {job && (
        <JobProgress
          key={job.id}
          jobId={job.id}
          label="Generate progress"
          onDone={(res) => {
            setJob(null);
            onGenerated({ output: job.output, datasets: Array.isArray(res) ? res : [] });
          }}
          onFailed={() => undefined /* JobProgress shows the error, once */}
        />
      )}
    </section>
  );
}
