// Page state that outlives a page: only the active page is mounted, so what must survive a tab
// switch (the selection, the wizard's spec, a running job) is kept here by key.
import { useCallback, useEffect, useRef, useState } from 'react';

const store = new Map<string, unknown>();
const listeners = new Map<string, Set<(v: unknown) => void>>();

// Kept in the tab's sessionStorage too, so that a reload (F5 during a run) keeps them: the
// scenario selection and the parameters a run sends (Runs page, issue 16 bug 11), and where the
// wizard was (guided or tree editor, the guided step: its draft is kept by wizard/draft.ts).
const SESSION_KEYS = new Set(['selection', 'scenarios.params', 'wizard.mode', 'guided.step']);
const SESSION_PREFIX = 'dicomfab.sticky.';

function fromSession(key: string): unknown {
  if (!SESSION_KEYS.has(key)) return undefined;
  try {
    const raw = window.sessionStorage.getItem(SESSION_PREFIX + key);
    return raw === null ? undefined : (JSON.parse(raw) as unknown);
  } catch {
    return undefined;
  }
}

function toSession(key: string, value: unknown): void {
  if (!SESSION_KEYS.has(key)) return;
  try {
    window.sessionStorage.setItem(SESSION_PREFIX + key, JSON.stringify(value));
  } catch {
    // storage full or disabled: the value lives until the reload
  }
}

export function getSticky<T>(key: string): T | undefined {
  return store.get(key) as T | undefined;
}

export function setSticky<T>(key: string, value: T): void {
  store.set(key, value);
  toSession(key, value);
  listeners.get(key)?.forEach((fn) => fn(value));
}

type Setter<T> = (value: T | ((prev: T) => T)) => void;

/** useState whose value is kept by key while the app runs (shared by every user of the key). */
export function useSticky<T>(key: string, initial: T | (() => T)): [T, Setter<T>] {
  const [value, setValue] = useState<T>(() => {
    if (store.has(key)) return store.get(key) as T;
    const saved = fromSession(key);
    const v = saved !== undefined ? (saved as T) : typeof initial === 'function' ? (initial as () => T)() : initial;
    store.set(key, v);
    return v;
  });
  const valueRef = useRef(value);
  valueRef.current = value;
  useEffect(() => {
    const fn = (v: unknown) => setValue(v as T);
    let set = listeners.get(key);
    if (!set) listeners.set(key, (set = new Set()));
    set.add(fn);
    if (store.has(key) && store.get(key) !== valueRef.current) setValue(store.get(key) as T);
    return () => {
      set?.delete(fn);
    };
  }, [key]);
  const update = useCallback<Setter<T>>(
    (next) => {
      const prev = (store.has(key) ? store.get(key) : valueRef.current) as T;
      const v = typeof next === 'function' ? (next as (p: T) => T)(prev) : next;
      setSticky(key, v);
    },
    [key],
  );
  return [value, update];
}
