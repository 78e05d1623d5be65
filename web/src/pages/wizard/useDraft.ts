import { useEffect, useState } from 'react';
import { useSticky } from '../../state';
import type { Spec } from '../../types';
import { isWork, loadDraft, saveDraft, type Draft } from './draft';
import { FIRST_STUDY, NEW_SPEC, type Sel } from './specTree';

/** A spec sent to the wizard from another page ("Customize this scenario"). */
export interface Incoming extends Draft {
  /** what it is, for the confirm dialog and the undo bar: "scenario X" */
  what: string;
}
export const INCOMING_KEY = 'wizard.incoming';

/** A replacement of the draft: waiting for the user's yes, or done and undoable. */
export interface Replacement {
  what: string;
  draft: Draft;
  sel: Sel;
}

/** The wizard's draft (spec, notes, selection), kept in this tab's storage across reloads, and
 * replacing it: a draft with work in it is only replaced after the user confirms, and the
 * replaced one can be brought back (undo). */
export function useDraft() {
  const [spec, setSpec] = useSticky<Spec>('wizard.spec', () => loadDraft()?.spec ?? NEW_SPEC);
  const [notes, setNotes] = useSticky<string[]>('wizard.notes', () => loadDraft()?.notes ?? []);
  const [sel, setSel] = useSticky<Sel>('wizard.sel', FIRST_STUDY);
  const [incoming, setIncoming] = useSticky<Incoming | null>(INCOMING_KEY, null);
  const [pending, setPending] = useState<Replacement | null>(null);
  const [undo, setUndo] = useSticky<Replacement | null>('wizard.undo', null);

  useEffect(() => saveDraft({ spec, notes }), [spec, notes]);

  const apply = (r: Replacement) => {
    if (JSON.stringify(spec) !== JSON.stringify(r.draft.spec))
      setUndo({ what: r.what, draft: { spec, notes }, sel });
    else setUndo(null);
    setSpec(r.draft.spec);
    setNotes(r.draft.notes);
    setSel(r.sel);
    setPending(null);
  };

  /** Replace the draft by `draft` (named `what`), asking first if the current one holds work. */
  const replace = (what: string, draft: Draft, nextSel: Sel, ask = true) => {
    const r = { what, draft, sel: nextSel };
    if (ask && isWork(spec) && JSON.stringify(spec) !== JSON.stringify(draft.spec)) setPending(r);
    else apply(r);
  };

  // A spec sent from another page goes through the same question.
  useEffect(() => {
    if (!incoming) return;
    setIncoming(null);
    replace(incoming.what, { spec: incoming.spec, notes: incoming.notes }, { ...FIRST_STUDY, level: 'spec' });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [incoming]);

  return {
    spec,
    setSpec,
    notes,
    setNotes,
    sel,
    setSel,
    replace,
    pending,
    confirm: () => pending && apply(pending),
    cancel: () => setPending(null),
    undo,
    /** Bring back the draft the last replacement took away. */
    restore: () => {
      if (!undo) return;
      setSpec(undo.draft.spec);
      setNotes(undo.draft.notes);
      setSel(undo.sel);
      setUndo(null);
    },
    dismissUndo: () => setUndo(null),
  };
}
