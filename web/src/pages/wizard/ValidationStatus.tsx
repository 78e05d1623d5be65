import type { Issue, ValidateResult } from '../../types';
import { selFromIssue, type Sel } from './specTree';

interface Props {
  validation: ValidateResult | null;
  validating: boolean;
  issues: Issue[];
  /** Show the node an issue names. */
  onSelect: (sel: Sel) => void;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** What the spec makes (patients, studies, series, instances), whether it is valid, and its problems. */
export default function ValidationStatus({ validation, validating, issues, onSelect }: Props) {
  const summary = validation?.summary;
  return (
    <>
      <div className="validation" aria-live="polite" data-testid="spec-summary">
        {summary && (
          <span>
            {plural(summary.patients, 'patient', 'patients')} · {plural(summary.studies, 'study', 'studies')} ·{' '}
            {summary.series} series · {plural(summary.instances, 'instance', 'instances')}
          </span>
        )}{' '}
        {validation &&
          (validation.ok && !issues.length ? (
            <span className="badge outcome-accept">valid</span>
          ) : (
            <span className="badge outcome-reject">{plural(issues.length, 'problem', 'problems')}</span>
          ))}
        {validating && <span className="muted"> checking…</span>}
      </div>
      {issues.length > 0 && (
        <ul className="issue-list" aria-label="Spec problems">
          {issues.map((i, k) => (
            <li key={k}>
              <button type="button" className="link-button" onClick={() => onSelect(selFromIssue(i.path))}>
                <code>{i.path || '(spec)'}</code>
              </button>
              : {i.message}
              {i.suggestion ? ` (did you mean ${i.suggestion}?)` : ''}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
