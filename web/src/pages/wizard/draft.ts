// The wizard's draft kept in the browser per tab, so that a reload (F5) does not lose it:
// sessionStorage holds the tab's id (it survives a reload, not a new tab), localStorage the draft
// under that id. Nothing is written before there is a draft (a spec other than a new one), and
// never anything but the spec and its notes: no token, no server answer.
import type { Spec } from '../../types';
import { NEW_SPEC } from './specTree';

const TAB_KEY = 'dicomfab.tab';
const DRAFT_PREFIX = 'dicomfab.wizard.draft.';
/** Drafts of other (closed) tabs kept at most, the newest. */
const KEEP = 10;

export interface Draft {
  spec: Spec;
  notes: string[];
}

/** Whether `spec` holds work (it differs from what "New spec" gives). */
export function isWork(spec: Spec): boolean {
  return JSON.stringify(spec) !== JSON.stringify(NEW_SPEC);
}

function tabId(create: boolean): string | null {
  try {
    let id = sessionStorage.getItem(TAB_KEY);
    if (!id && create) {
      id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
      sessionStorage.setItem(TAB_KEY, id);
    }
    return id;
  } catch {
    return null; // storage disabled: the draft lives as long as the page
  }
}

/** This tab's draft, if it saved one. */
export function loadDraft(): Draft | null {
  const id = tabId(false);
  if (!id) return null;
  try {
    const raw = localStorage.getItem(DRAFT_PREFIX + id);
    if (!raw) return null;
    const d = JSON.parse(raw) as { spec?: unknown; notes?: unknown };
    if (!d.spec || typeof d.spec !== 'object' || Array.isArray(d.spec)) return null;
    const notes = Array.isArray(d.notes) ? d.notes.filter((n): n is string => typeof n === 'string') : [];
    return { spec: d.spec as Spec, notes };
  } catch {
    return null;
  }
}

/** Save this tab's draft (a new, empty spec removes it). */
export function saveDraft(draft: Draft): void {
  const work = isWork(draft.spec) || draft.notes.length > 0;
  const id = tabId(work);
  if (!id) return;
  try {
    if (!work) {
      localStorage.removeItem(DRAFT_PREFIX + id);
      return;
    }
    localStorage.setItem(DRAFT_PREFIX + id, JSON.stringify({ ...draft, saved: Date.now() }));
    prune(id);
  } catch {
    /* full or disabled: the draft still lives in the page */
  }
}

/** Drop the oldest drafts of other tabs beyond KEEP. */
function prune(own: string): void {
  const others: { key: string; saved: number }[] = [];
  for (let k = 0; k < localStorage.length; k++) {
    const key = localStorage.key(k);
    if (!key || !key.startsWith(DRAFT_PREFIX) || key === DRAFT_PREFIX + own) continue;
    let saved = 0;
    try {
      saved = Number((JSON.parse(localStorage.getItem(key) ?? '{}') as { saved?: number }).saved) || 0;
    } catch {
      /* unreadable: oldest */
    }
    others.push({ key, saved });
  }
  others.sort((a, b) => b.saved - a.saved);
  others.slice(KEEP).forEach((o) => localStorage.removeItem(o.key));
}
