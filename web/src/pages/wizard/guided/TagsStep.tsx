import { useState } from 'react';
import type { Spec, SpecPreview } from '../../../types';
import { BASE_TAGS, ensureCurrent, imageCancerous, instanceTag, setImageCancerous, setInstanceTag } from './guidedSpec';
import { rowsOfStudy, viewLabel } from './rows';

interface FieldProps {
  id: string;
  label: string;
  own: unknown;
  generated: string | null;
  onSet: (text: string) => void;
}

/** One base tag of one image: the image's own value when the spec sets one, else the value generate will write. */
function TagField({ id, label, own, generated, onSet }: FieldProps) {
  const [draft, setDraft] = useState<string | null>(null);
  const shown = draft ?? (own !== undefined && own !== null ? String(own) : (generated ?? ''));
  const edited = own !== undefined;
  return (
    <div className={`tag-field${edited ? ' tag-edited' : ''}`}>
      <input
        id={id}
        type="text"
        aria-label={label}
        value={shown}
        onFocus={() => setDraft(shown)}
        onBlur={() => setDraft(null)}
        onChange={(e) => {
          setDraft(e.target.value);
          onSet(e.target.value);
        }}
      />
      {edited && (
        <button type="button" className="link-button" aria-label={`Reset ${label}`} title="Back to the generated value" onClick={() => onSet('')}>
          ↺
        </button>
      )}
    </div>
  );
}

interface Props {
  spec: Spec;
  preview: SpecPreview | null;
  onChange: (spec: Spec) => void;
}

/** Step 2: every image of the current study with its base tags, pre-filled from the preview and editable. */
export default function TagsStep({ spec, preview, onChange }: Props) {
  const [withCurrent, index] = ensureCurrent(spec);
  const rows = rowsOfStudy(preview, index);
  if (!rows.length) return <p className="muted">Waiting for the preview of the current study…</p>;
  return (
    <>
      <p className="hint">
        Values come from the server's preview: what generate will write with this seed. Change one and it becomes that
        image's own tag in the spec; ↺ goes back to the generated value.
      </p>
      <div className="guided-table-wrap">
        <table className="guided-tags" data-testid="guided-tags">
          <caption className="sr-only">Base tags of each image of the current study</caption>
          <thead>
            <tr>
              <th scope="col">Tag</th>
              {rows.map((row, i) => (
                <th scope="col" key={row.path}>
                  Image {i + 1} ({viewLabel(row)})
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr>
              <th scope="row">Cancerous</th>
              {rows.map((row, i) => (
                <td key={row.path}>
                  <input
                    type="checkbox"
                    aria-label={`Image ${i + 1} cancerous`}
                    checked={imageCancerous(withCurrent, index, i)}
                    onChange={(e) => onChange(setImageCancerous(withCurrent, index, i, e.target.checked))}
                  />
                </td>
              ))}
            </tr>
            {BASE_TAGS.map((k) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                {rows.map((row, i) => (
                  <td key={row.path}>
                    <TagField
                      id={`guided-img${i}-${k}`}
                      label={`Image ${i + 1} ${k}`}
                      own={instanceTag(withCurrent, index, i, k)}
                      generated={row.tags[k] ?? null}
                      onSet={(text) => onChange(setInstanceTag(withCurrent, index, i, k, text))}
                    />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
