import { ApiError, errorParts, issueLine } from '../api';
import type { Issue } from '../types';
import { InlineError } from './Alerts';

/** The issues of an API error that concern one request field (`output`, `seed`, `params.x`…). */
export function issuesFor(error: unknown, field: string): Issue[] {
  if (!(error instanceof ApiError)) return [];
  return error.issues.filter((i) => i.path === field || i.path.startsWith(`${field}.`) || i.path.startsWith(`${field}[`));
}

const line = (i: Issue) => issueLine(i, false);

/** The messages under a field (its `id` for the field's aria-describedby). */
export function FieldIssues({ error, field, id }: { error: unknown; field: string; id?: string }) {
  const list = issuesFor(error, field);
  if (!list.length) return null;
  return (
    <div className="field-error" id={id}>
      {list.map((i, k) => (
        <div key={k}>{line(i)}</div>
      ))}
    </div>
  );
}

/**
 * An error next to the form it concerns: its message and every issue, with its path, each once;
 * the issues of `fields` (shown under their controls by FieldIssues) are not repeated here.
 */
export function ErrorWithIssues({ error, fields = [] }: { error: unknown; fields?: string[] }) {
  if (!error) return null;
  if (!(error instanceof ApiError)) return <InlineError error={error} />;
  const { message, issues } = errorParts(error, fields);
  if (!message && !issues.length) {
    // every issue is under its field: say where to look, once, for screen readers too
    return (
      <div className="alert alert-error" role="alert">
        Please correct the marked field above.
      </div>
    );
  }
  return (
    <div className="alert alert-error" role="alert">
      {message}
      {issues.length > 0 && (
        <ul>
          {issues.map((i, k) => (
            <li key={k}>{issueLine(i)}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
