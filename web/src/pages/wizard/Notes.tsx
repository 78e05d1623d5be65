/** What the last import or export said (a converted old config, what it could not keep). */
export default function Notes({ notes, onDismiss }: { notes: string[]; onDismiss: () => void }) {
  if (!notes.length) return null;
  return (
    <div className="notes" role="status" aria-label="Notes">
      <ul>
        {notes.map((n, k) => (
          <li key={k}>{n}</li>
        ))}
      </ul>
      <button type="button" className="small" onClick={onDismiss}>
        Dismiss notes
      </button>
    </div>
  );
}
