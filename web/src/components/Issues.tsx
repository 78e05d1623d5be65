import { ApiError } from '../api';
import type { Issue } from '../types';
import { InlineError } from './Alerts';

/** The issues of an API error that concern one request field (`output`, `seed`, `params.x`…). */
export function issuesFor(error: unknown, field: string): Issue[] {
  if (!(error instanceof ApiError)) return [];
  return error.issues.filter((i) => i.path === field || i.path.startsWith(`${field}.`) || i.path.startsWith(`${field}[`));
}

const line = (i: Issue) => `${i.message}${i.suggestion ? ` (did you mean ${i.suggestion}?)` : ''}`;

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

/** An error next to the form it concerns: its message and every issue, with its path. */
export function ErrorWithIssues({ error }: { error: unknown }) {
  if (!(error instanceof ApiError && error.issues.length)) return <InlineError error={error} />;
  return (
    <div className="alert alert-error" role="alert">
      {error.message}
      <ul>
        {error.issues.map((i, k) => (
          <li key={k}>
            {i.path ? `${i.path}: ` : ''}
            {line(i)}
          </li>
        ))}
      </ul>
    </div>
  );
}
