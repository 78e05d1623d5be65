import { useEffect, useState } from 'react';
import { get } from '../api';
import type { HeaderPreview, ImageLabel } from '../types';
import { InlineError } from './Alerts';
import { roleText } from './imageLabels';
import { Preview } from './Preview';

/** What the manifest says of the file: `RCC (R) · current study · patient · date · description`. */
function describe(image: ImageLabel): string {
  const view = image.view ? `${image.view}${image.laterality ? ` (${image.laterality})` : ''}` : image.modality;
  const who = image.patient_name.replace(/\^/g, ' ').trim();
  return [view, `${roleText(image.role)} study`, `${who} (${image.patient_id})`, image.study_date, image.study_description]
    .filter(Boolean)
    .join(' · ');
}

/**
 * One file's header (tag, keyword, VR, value; sequence items indented) and a large image; long
 * values wrap inside the panel (no sideways page scroll at 800 px).
 */
export default function HeaderView({ path, name, image }: { path: string; name: string; image?: ImageLabel | null }) {
  const [header, setHeader] = useState<HeaderPreview | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [filter, setFilter] = useState('');
  useEffect(() => {
    const ctrl = new AbortController();
    setHeader(null);
    setError(null);
    get<HeaderPreview>('/api/preview/header', { path }, ctrl.signal).then(setHeader, (err) => {
      if (!(err instanceof DOMException)) setError(err);
    });
    return () => ctrl.abort();
  }, [path]);
  const q = filter.trim().toLowerCase();
  const rows = (header?.elements || []).filter(
    (e) => !q || `${e.tag} ${e.keyword} ${e.vr} ${e.value}`.toLowerCase().includes(q),
  );
  return (
    <section className="header-view" aria-label={`Header of ${name}`}>
      <h3 className="header-name">{name}</h3>
      {image && (
        <p className="header-what" data-testid="header-what">
          {describe(image)}
        </p>
      )}
      <div className="header-layout">
        <figure className="preview-large">
          <Preview path={path} size={512} alt={`image ${image ? describe(image) : name}`} />
          <figcaption className="muted">{path}</figcaption>
        </figure>
        <div className="header-table-wrap">
          <InlineError error={error} />
          <label className="inline">
            Filter elements <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
          </label>
          {!header && !error && <p className="muted">Loading header…</p>}
          {header && (
            <table className="header-table" data-testid="header-table">
              <caption className="sr-only">DICOM header of {name}</caption>
              <thead>
                <tr>
                  <th scope="col">Tag</th>
                  <th scope="col">Keyword</th>
                  <th scope="col">VR</th>
                  <th scope="col">Value</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((e, i) => (
                  <tr key={`${i}-${e.tag}`}>
                    <td className="mono" style={{ paddingLeft: `${0.5 + e.depth * 1.25}rem` }}>
                      {e.depth > 0 ? '› '.repeat(e.depth) : ''}
                      {e.tag}
                    </td>
                    <td>{e.keyword}</td>
                    <td className="mono">{e.vr}</td>
                    <td className="value">{e.value}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>
    </section>
  );
}
