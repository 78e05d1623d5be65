import { useEffect, useState } from 'react';
import { get } from '../../../api';
import { InlineError } from '../../../components/Alerts';
import type { Folders } from '../../../types';

interface Props {
  /** The folder the picker opens at (the output folder so far); the roots when it cannot be listed. */
  start: string;
  onPick: (path: string) => void;
  onClose: () => void;
}

/** Browse the allowed roots' sub-folders (GET /api/folders: the server confines every path) and pick one. */
export default function FolderPicker({ start, onPick, onClose }: Props) {
  const [at, setAt] = useState<string | null>(start || null);
  const [listing, setListing] = useState<Folders | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let live = true;
    get<Folders>('/api/folders', { path: at })
      .then((f) => {
        if (!live) return;
        setListing(f);
        setError(null);
      })
      .catch((err) => {
        if (!live) return;
        if (at === start && start) setAt(null); // the output folder does not exist yet: start at the roots
        else setError(err);
      });
    return () => {
      live = false;
    };
  }, [at, start]);

  return (
    <div className="folder-picker" role="group" aria-label="Folder picker">
      <div className="folder-picker-head">
        <span className="muted">Folder:</span> <code data-testid="picker-path">{listing?.path ?? 'allowed folders'}</code>
      </div>
      <InlineError error={error} />
      <ul className="folder-list">
        {listing?.path && (
          <li>
            <button type="button" className="link-button" onClick={() => setAt(listing.parent)}>
              ↑ Up{listing.parent ? '' : ' to the allowed folders'}
            </button>
          </li>
        )}
        {listing?.folders.map((f) => (
          <li key={f.path}>
            <button type="button" className="link-button" aria-label={`Open folder ${f.name}`} onClick={() => setAt(f.path)}>
              📁 {f.name}
            </button>
          </li>
        ))}
        {listing && !listing.folders.length && <li className="muted">No sub-folders.</li>}
        {listing?.truncated && <li className="muted">More folders than shown.</li>}
      </ul>
      <div className="toolbar">
        <button type="button" className="primary" disabled={!listing?.path} onClick={() => listing?.path && onPick(listing.path)}>
          Use this folder
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </div>
  );
}
