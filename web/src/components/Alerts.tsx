import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { ApiError, errorMessage } from '../api';

interface AlertItem {
  id: number;
  message: string;
}

interface AlertsApi {
  report: (err: unknown, context?: string) => void;
}

const AlertsContext = createContext<AlertsApi>({ report: () => undefined });

let nextId = 1;

/** The page-wide alert region (role="alert"): every error not shown next to a field ends here. */
export function AlertsProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<AlertItem[]>([]);
  const report = useCallback((err: unknown, context?: string) => {
    if (err instanceof DOMException && err.name === 'AbortError') return;
    if (err instanceof ApiError && err.status === 401) return; // the full-page message handles it
    const text = errorMessage(err);
    const message = context && !text.startsWith(context) ? `${context}: ${text}` : text;
    setItems((prev) => (prev.some((p) => p.message === message) ? prev : [...prev, { id: nextId++, message }].slice(-5)));
  }, []);
  const value = useMemo(() => ({ report }), [report]);
  return (
    <AlertsContext.Provider value={value}>
      {items.length > 0 && (
      <div className="alerts" role="alert" aria-live="assertive">
        {items.map((item) => (
          <div className="alert alert-error" key={item.id}>
            <span>{item.message}</span>
            <button
              type="button"
              className="link-button"
              aria-label="Dismiss error"
              onClick={() => setItems((prev) => prev.filter((p) => p.id !== item.id))}
            >
              ×
            </button>
          </div>
        ))}
      </div>
      )}
      {children}
    </AlertsContext.Provider>
  );
}

export function useReportError(): (err: unknown, context?: string) => void {
  return useContext(AlertsContext).report;
}

/** An inline error next to the control it concerns. */
export function InlineError({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div className="alert alert-error" role="alert">
      {errorMessage(error)}
    </div>
  );
}
