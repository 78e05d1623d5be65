// Page state that outlives a page: only the active page is mounted, so what must survive a tab
// switch (the selection, the wizard's spec, a running job) is kept here by key.
import { useCallback, useEffect, useRef, useState } from 'react';

const store = new Map<string, unknown>();
const listeners = new Map<string, Set<(v: unknown) => void>>();

export function getSticky<T>(key: string): T | undefined {
  return store.get(key) as T | undefined;
}

export function setSticky<T>(key: string, value: T): void {
  store.set(key, value);
  listeners.get(key)?.forEach((fn) => fn(value));
}

type Setter<T> = (value: T | ((prev: T) => T)) => void;

/** useState whose value is kept by key while the app runs (shared by every user of the key). */
export function useSticky<T>(key: string, initial: T | (() => T)): [T, Setter<T>] {
  const [value, setValue] = useState<T>(() => {
    if (store.has(key)) return store.get(key) as T;
    const v = typeof initial === 'function' ? (initial as () => T)() : initial;
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
