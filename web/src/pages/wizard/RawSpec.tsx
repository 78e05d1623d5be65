import { useEffect, useId, useState } from 'react';
import { ApiError, errorMessage, post } from '../../api';
import type { ExportResult, ImportResult, Issue, Spec } from '../../types';

type Format = 'yaml' | 'json';

interface Check {
  text: string;
  ok: boolean;
  spec?: Spec;
  notes: string[];
  message?: string;
  issues: Issue[];
}

interface Props {
  spec: Spec;
  /** The text's spec replaces the tree (undoable). */
  onApply: (spec: Spec, notes: string[]) => void;
}

/** The spec as text: read as JSON, or edited as YAML or JSON, checked as it is typed by the same
 * parser and validation as an imported file (POST /api/spec/import), errors with their path or
 * line; "Apply" replaces the tree with what the text says. */
export default function RawSpec({ spec, onApply }: Props) {
  const uid = useId().replace(/:/g, '');
  const [format, setFormat] = useState<Format | null>(null);
  const [text, setText] = useState('');
  const [dirty, setDirty] = useState(false);
  const [check, setCheck] = useState<Check | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);

  // The text follows the tree until it is edited.
  useEffect(() => {
    if (!format || dirty) return;
    let live = true;
    setLoadError(null);
    if (format === 'json') setText(JSON.stringify(spec, null, 2));
    else
      post<ExportResult>('/api/spec/export', { spec, format: 'yaml' }).then(
        (a) => live && setText(a.text),
        (err) => live && setLoadError(err),
      );
    return () => {
      live = false;
    };
  }, [spec, format, dirty]);

  // Live validation of the edited text.
  useEffect(() => {
    if (!format || !dirty) return;
    let live = true;
    const t = window.setTimeout(() => {
      post<ImportResult>('/api/spec/import', { text, filename: `spec.${format}` }).then(
        (a) => live && setCheck({ text, ok: true, spec: a.spec, notes: a.notes, issues: [] }),
        (err) =>
          live &&
          setCheck({
            text,
            ok: false,
            notes: [],
            message: err instanceof ApiError ? err.message : errorMessage(err),
            issues: err instanceof ApiError ? err.issues : [],
          }),
      );
    }, 400);
    return () => {
      live = false;
      window.clearTimeout(t);
    };
  }, [text, format, dirty]);

  const current = check && check.text === text ? check : null;
  const close = () => {
    setFormat(null);
    setDirty(false);
    setCheck(null);
  };

  return (
    <section aria-labelledby="raw-title" className="raw-spec">
      <div className="page-head">
        <h3 id="raw-title">Raw spec</h3>
        <div className="actions">
          {format === null ? (
            <>
              <button type="button" onClick={() => setFormat('yaml')}>
                Edit as YAML
              </button>
              <button type="button" onClick={() => setFormat('json')}>
                Edit as JSON
              </button>
            </>
          ) : (
            <button type="button" onClick={close}>
              {dirty ? 'Discard text edits' : 'Close the text editor'}
            </button>
          )}
        </div>
      </div>
      {format === null ? (
        <pre className="raw" data-testid="spec-json" aria-label="Spec as JSON" tabIndex={0}>
          {JSON.stringify(spec, null, 2)}
        </pre>
      ) : (
        <>
          <label htmlFor={`${uid}-text`}>Raw spec text ({format.toUpperCase()})</label>
          <textarea
            id={`${uid}-text`}
            className="mono raw-text"
            rows={12}
            spellCheck={false}
            value={text}
            aria-describedby={`${uid}-status`}
            aria-invalid={current ? !current.ok : undefined}
            onChange={(e) => {
              setText(e.target.value);
              setDirty(true);
            }}
          />
          <div id={`${uid}-status`} className="raw-status" aria-live="polite" data-testid="raw-status">
            {loadError !== null && <div className="field-error">{errorMessage(loadError)}</div>}
            {!dirty && <span className="muted">The text shows the spec as it is; edit it, then apply.</span>}
            {dirty && !current && <span className="muted">checking…</span>}
            {current?.ok && <span className="badge outcome-accept">valid</span>}
            {current && !current.ok && (
              <div className="field-error">
                {current.issues.length ? (
                  <ul aria-label="Problems in the text">
                    {current.issues.map((i, k) => (
                      <li key={k}>
                        {i.path && <code>{i.path}</code>}
                        {i.path ? ': ' : ''}
                        {i.message}
                        {i.suggestion ? ` (did you mean ${i.suggestion}?)` : ''}
                      </li>
                    ))}
                  </ul>
                ) : (
                  current.message
                )}
              </div>
            )}
          </div>
          <button
            type="button"
            className="primary"
            disabled={!dirty || !current?.ok}
            onClick={() => {
              if (!current?.spec) return;
              onApply(current.spec, current.notes);
              setDirty(false);
              setCheck(null);
            }}
          >
            Apply the text to the spec
          </button>
        </>
      )}
    </section>
  );
}
