import { useState } from 'react';
import type { Spec, SpecPreview } from '../../../types';
import { addStudies, removeStudy, studiesOf } from './guidedSpec';
import { isoDate, rowsOfStudy } from './rows';
import StudyFields from './StudyFields';

interface Props {
  spec: Spec;
  preview: SpecPreview | null;
  onChange: (spec: Spec) => void;
}

/** Step 3: internal priors of the same patient, dated a year apart back from the current study. */
export default function PriorsStep({ spec, preview, onChange }: Props) {
  const [n, setN] = useState(1);
  const priors = studiesOf(spec, 'prior');
  return (
    <>
      <p className="hint">
        Internal priors inherit the current study's patient. Dates are relative to the current study (<code>-1y</code>,{' '}
        <code>-2y6m</code>) or a plain date.
      </p>
      <div className="inline-row">
        <label htmlFor="guided-add-priors">Internal priors to add</label>
        <input id="guided-add-priors" type="number" min={1} max={20} value={n} onChange={(e) => setN(Number(e.target.value))} />
        <button type="button" onClick={() => onChange(addStudies(spec, 'prior', Math.max(1, Math.min(20, n || 1))))}>
          Add internal priors
        </button>
      </div>
      {!priors.length && <p className="muted">No internal priors.</p>}
      {priors.map(({ index, study }, k) => {
        const rows = rowsOfStudy(preview, index);
        const label = `Internal prior ${k + 1}`;
        return (
          <fieldset key={index} className="guided-study" data-testid={`guided-prior-${k + 1}`}>
            <legend>{label}</legend>
            <StudyFields
              spec={spec}
              index={index}
              study={study}
              label={label}
              idPrefix={`guided-prior-${k}`}
              onChange={onChange}
              resolvedDate={isoDate(rows[0]?.tags.StudyDate)}
              dateHint="e.g. -1y"
            />
            <p className="muted small-text">
              Patient {rows[0]?.tags.PatientName ?? '…'} ({rows[0]?.tags.PatientID ?? '…'}), {rows.length} images
            </p>
            <button type="button" onClick={() => onChange(removeStudy(spec, index))}>
              Remove {label.toLowerCase()}
            </button>
          </fieldset>
        );
      })}
    </>
  );
}
