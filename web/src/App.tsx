import { useCallback, useEffect, useState, type MouseEvent } from 'react';
import { get, onUnauthorized } from './api';
import { AlertsProvider, useReportError } from './components/Alerts';
import { ErrorBoundary } from './components/ErrorBoundary';
import Output from './pages/Output';
import Runs from './pages/Runs';
import Scenarios from './pages/Scenarios';
import Wizard from './pages/Wizard';
import { INCOMING_KEY } from './pages/wizard/useDraft';
import { setSticky } from './state';
import type { Info, Spec } from './types';

const TABS = [
  { id: 'scenarios', label: 'Scenarios' },
  { id: 'wizard', label: 'Wizard' },
  { id: 'output', label: 'Output' },
  { id: 'runs', label: 'Runs' },
] as const;
export type TabId = (typeof TABS)[number]['id'];

function tabFromHash(): TabId {
  const h = window.location.hash.replace(/^#\/?/, '').split(/[?/]/)[0];
  return (TABS.find((t) => t.id === h)?.id ?? 'scenarios') as TabId;
}

export function NeedsToken() {
  return (
    <main className="needs-token">
      <h1>dicomfab</h1>
      <div className="alert alert-error" role="alert">
        <p>
          <strong>
            This page needs the link printed by <code>dicomfab ui</code>, with its token.
          </strong>
        </p>
        <p>
          Run <code>dicomfab ui</code> in a terminal and open the address it prints (
          <code>http://127.0.0.1:PORT/?token=…</code>). It signs this browser in with a cookie and leaves the
          address bar without the token.
        </p>
      </div>
    </main>
  );
}

/** A skip link's jump: focus the target (and scroll to it) without touching the tab's hash. */
function skipTo(e: MouseEvent, id: string): void {
  e.preventDefault();
  const target = document.getElementById(id) ?? document.getElementById('main');
  target?.focus();
  target?.scrollIntoView({ block: 'start' });
}

function Shell() {
  const [tab, setTab] = useState<TabId>(tabFromHash);
  const [info, setInfo] = useState<Info | null>(null);
  const report = useReportError();

  useEffect(() => {
    const onHash = () => setTab(tabFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    const onRejection = (e: PromiseRejectionEvent) => report(e.reason);
    const onError = (e: ErrorEvent) => report(e.error ?? e.message);
    window.addEventListener('unhandledrejection', onRejection);
    window.addEventListener('error', onError);
    return () => {
      window.removeEventListener('unhandledrejection', onRejection);
      window.removeEventListener('error', onError);
    };
  }, [report]);

  useEffect(() => {
    get<Info>('/api/info').then(setInfo, (err) => report(err, 'Loading server info'));
  }, [report]);

  const go = useCallback((id: TabId) => {
    if (window.location.hash !== `#${id}`) window.location.hash = id;
    setTab(id);
  }, []);

  const openInWizard = useCallback(
    (spec: Spec, notes: string[] = []) => {
      // the wizard asks before it replaces a draft (pages/wizard/useDraft.ts)
      setSticky(INCOMING_KEY, { spec, notes, what: notes[0]?.replace(/^Loaded from /, '').replace(/\.$/, '') || 'a scenario' });
      go('wizard');
    },
    [go],
  );

  const label = TABS.find((t) => t.id === tab)?.label ?? '';
  useEffect(() => {
    document.title = `${label} · dicomfab`;
  }, [label]);

  return (
    <>
      <div className="skip-links">
        <a className="skip-link" href="#main" onClick={(e) => skipTo(e, 'main')}>
          Skip to content
        </a>
        {(tab === 'scenarios' || tab === 'wizard') && (
          <a className="skip-link" href="#generate" onClick={(e) => skipTo(e, 'generate')}>
            Skip to Generate
          </a>
        )}
      </div>
      <header className="app-header">
        <div className="brand">
          <h1>dicomfab</h1>
          {info && <span className="version">v{info.version}</span>}
        </div>
        <nav aria-label="Main">
          <ul>
            {TABS.map((t) => (
              <li key={t.id}>
                <a
                  href={`#${t.id}`}
                  aria-current={tab === t.id ? 'page' : undefined}
                  onClick={(e) => {
                    e.preventDefault();
                    go(t.id);
                  }}
                >
                  {t.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main className="app-main" id="main" tabIndex={-1}>
        <ErrorBoundary label={label} key={tab}>
          {tab === 'scenarios' && <Scenarios info={info} openInWizard={openInWizard} />}
          {tab === 'wizard' && <Wizard info={info} />}
          {tab === 'output' && <Output info={info} />}
          {tab === 'runs' && <Runs info={info} />}
        </ErrorBoundary>
      </main>
    </>
  );
}

export default function App() {
  const [unauthorized, setUnauthorized] = useState(false);
  useEffect(() => {
    onUnauthorized(() => setUnauthorized(true));
    return () => onUnauthorized(null);
  }, []);
  if (unauthorized) return <NeedsToken />;
  return (
    <AlertsProvider>
      <Shell />
    </AlertsProvider>
  );
}
