import type { Info, Spec, SpecPreview } from '../../../types';
import GuidedGenerate from './GuidedGenerate';
import { newSeed, seedOf } from './guidedSpec';
import { isoDate, viewLabel } from './rows';

interface Props {
  spec: Spec;
  preview: SpecPreview | null;
  ready: boolean;
  info: Info | null;
  onChange: (spec: Spec) => void;
}

const ROLE: Record<string, string> = { current: 'current', prior: 'internal prior', external_prior: 'external prior' };
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Step 5: the summary and the patient, accession numbers and UIDs that WILL be written (from the seed), then Generate. */
export default function ReviewStep({ spec, preview, ready, info, onChange }: Props) {
  const name = typeof spec.name === 'string' ? spec.name : '';
  return (
    <>
      <div className="form-grid">
        <div className="field">
          <label htmlFor="guided-name">Dataset name</label>
          <input
            id="guided-name"
            type="text"
            value={name}
            aria-describedby="guided-name-hint"
            onChange={(e) => onChange({ ...spec, name: e.target.value })}
          />
          <span className="hint" id="guided-name-hint">
            its folder in the output folder
          </span>
        </div>
      </div>
      <div className="inline-row">
        <p data-testid="guided-summary">
          {preview
            ? `${plural(preview.patients, 'patient')}, ${plural(preview.studies, 'study', 'studies')}, ${plural(preview.instances, 'instance')}`
            : 'Waiting for the preview…'}
        </p>
        <span>
          Seed <code data-testid="guided-seed">{seedOf(spec)}</code>
        </span>
        <button type="button" onClick={() => onChange(newSeed(spec))}>
          New seed
        </button>
      </div>
      <p className="hint">
        Patient, accession numbers and UIDs come from the seed: these are the values the files will hold. "New seed" rolls
        new ones.
      </p>
      {preview && (
        <div className="guided-table-wrap">
          <table className="guided-table" data-testid="guided-preview">
            <caption className="sr-only">What generate will write, per instance</caption>
            <thead>
              <tr>
                <th scope="col">Study</th>
                <th scope="col">View</th>
                <th scope="col">Patient</th>
                <th scope="col">Patient ID</th>
                <th scope="col">Accession</th>
                <th scope="col">Date</th>
                <th scope="col">Lesion</th>
                <th scope="col">Study Instance UID</th>
                <th scope="col">SOP Instance UID</th>
              </tr>
            </thead>
            <tbody>
              {preview.rows.map((r) => (
                <tr key={r.path} data-testid="guided-preview-row">
                  <td>{ROLE[r.role] ?? r.role}</td>
                  <td>{viewLabel(r)}</td>
                  <td>{r.tags.PatientName}</td>
                  <td data-col="PatientID">{r.tags.PatientID}</td>
                  <td data-col="AccessionNumber">{r.tags.AccessionNumber}</td>
                  <td className="nowrap">{isoDate(r.tags.StudyDate)}</td>
                  <td>{r.lesion ?? ''}</td>
                  <td className="uid" data-col="StudyInstanceUID">
                    {r.tags.StudyInstanceUID}
                  </td>
                  <td className="uid" data-col="SOPInstanceUID">
                    {r.tags.SOPInstanceUID}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {preview.truncated && <p className="muted">The first {preview.rows.length} instances are shown.</p>}
        </div>
      )}
      <GuidedGenerate spec={spec} info={info} ready={ready} />
    </>
  );
}
