import { useEffect, useRef, useState } from 'react';
import { ApiError, post } from '../../api';
import { useReportError } from '../../components/Alerts';
import type { Spec, ValidateResult } from '../../types';
import { normaliseIssue } from './specTree';

/** The spec checked by the server as it is edited (debounced): its summary and issues. A result
 * is only ever shown for the spec it was computed from: when the spec changes, the last result is
 * dropped (no stale "valid", no old problem markers) until the new one arrives, and an answer to
 * an older request that comes late is ignored. */
export function useSpecValidation(spec: Spec): { validation: ValidateResult | null; validating: boolean } {
  const report = useReportError();
  const [checked, setChecked] = useState<{ spec: Spec; result: ValidateResult } | null>(null);
  const [validating, setValidating] = useState(false);
  const latest = useRef(0);
  useEffect(() => {
    const request = ++latest.current;
    setValidating(true);
    const t = window.setTimeout(() => {
      post<ValidateResult>('/api/spec/validate', { spec })
        .then((r) => {
          if (request === latest.current) setChecked({ spec, result: { ...r, issues: r.issues.map(normaliseIssue) } });
        })
        .catch((err) => {
          if (request !== latest.current) return;
          if (err instanceof ApiError && err.issues.length)
            setChecked({ spec, result: { ok: false, issues: err.issues.map(normaliseIssue), summary: null, notes: [] } });
          else report(err, 'Validating the spec');
        })
        .finally(() => {
          if (request === latest.current) setValidating(false);
        });
    }, 400);
    return () => window.clearTimeout(t);
  }, [spec, report]);
  return { validation: checked && checked.spec === spec ? checked.result : null, validating };
}
