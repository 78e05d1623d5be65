import { useEffect, useRef } from 'react';

/** The question before a draft with work in it is replaced: an in-page modal dialog (focus
 * stays inside, Escape keeps the draft). */
export function ConfirmReplace({ what, onReplace, onKeep }: { what: string; onReplace: () => void; onKeep: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      className="confirm-dialog"
      aria-labelledby="replace-title"
      aria-describedby="replace-desc"
      onCancel={(e) => {
        e.preventDefault();
        onKeep();
      }}
    >
      <h3 id="replace-title">Replace your draft?</h3>
      <p id="replace-desc">
        {what} replaces the spec you are editing. You can undo this right after.
      </p>
      <div className="actions">
        <button type="button" className="primary" onClick={onReplace}>
          Replace draft
        </button>
        <button type="button" autoFocus onClick={onKeep}>
          Keep my draft
        </button>
      </div>
    </dialog>
  );
}

/** After a replacement: what replaced the draft, and the way back. */
export function UndoBar({ what, onUndo, onDismiss }: { what: string; onUndo: () => void; onDismiss: () => void }) {
  return (
    <div className="undo-bar" role="status" data-testid="undo-bar">
      <span>Your draft was replaced by {what}.</span>{' '}
      <button type="button" className="small" onClick={onUndo}>
        Undo
      </button>{' '}
      <button type="button" className="small" onClick={onDismiss} aria-label="Close this message">
        ✕
      </button>
    </div>
  );
}
