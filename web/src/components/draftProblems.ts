// Problems the spec cannot carry (two tag rows with one key keep only the last): the tables that
// see them report them here, so that the wizard's badge and problem list count them too.
import { createContext, useContext, useEffect } from 'react';
import type { Issue } from '../types';

/** Replace the problems reported by `owner` (a table's id); an empty list withdraws them. */
export type ReportProblems = (owner: string, issues: Issue[]) => void;

export const DraftProblemsContext = createContext<ReportProblems | null>(null);

/** Report `issues` as `owner`'s while the caller is mounted (withdrawn when it unmounts). */
export function useReportProblems(owner: string, issues: Issue[]): void {
  const report = useContext(DraftProblemsContext);
  const key = JSON.stringify(issues);
  useEffect(() => {
    report?.(owner, JSON.parse(key) as Issue[]);
  }, [report, owner, key]);
  useEffect(() => () => report?.(owner, []), [report, owner]);
}
