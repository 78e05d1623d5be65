import { useEffect, useState } from 'react';
import { ApiError, post } from '../../api';
import { useReportError } from '../../components/Alerts';
import type { Spec, ValidateResult } from '../../types';
import { normaliseIssue } from './specTree';

/** The spec checked by the server as it is edited (debounced): its summary and issues. */
export function useSpecValidation(spec: Spec): { validation: ValidateResult | null; validating: boolean } {
  const report = useReportError();
  const [validation, setValidation] = useState<ValidateResult | null>(null);
  const [validating, setValidating] = useState(false);
  useEffect(() => {
    const t = window.setTimeout(() => {
      setValidating(true);
      post<ValidateResult>('/api/spec/validate', { spec })
        .then((r) => setValidation({ ...r, issues: r.issues.map(normaliseIssue) }))
        .catch((err) => {
          if (err instanceof ApiError && err.issues.length)
            setValidation({ ok: false, issues: err.issues.map(normaliseIssue), summary: null, notes: [] });
          else report(err, 'Validating the spec');
        })
        .finally(() => setValidating(false));
    }, 400);
    return () => window.clearTimeout(t);
  }, [spec, report]);
  return { validation, validating };
}
