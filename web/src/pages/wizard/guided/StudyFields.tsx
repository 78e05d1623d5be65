import type { Spec } from '../../../types';
import type { Obj } from '../specTree';
import { isCancerous, MAX_VIEWS, setCancerous, setStudyField, setViewCount, viewCount } from './guidedSpec';

interface Props {
  spec: Spec;
  index: number;
  study: Obj;
  /** How the fields are named to assistive technology: "Current study", "Internal prior 2"… */
  label: string;
  idPrefix: string;
  onChange: (spec: Spec) => void;
  /** The date the spec will write (from the preview). */
  resolvedDate?: string;
  dateHint: string;
}

/** Date, description, number of views and "cancerous" of one study. */
export default function StudyFields({ spec, index, study, label, idPrefix, onChange, resolvedDate, dateHint }: Props) {
  const date = typeof study.date === 'string' ? study.date : '';
  const description = typeof study.description === 'string' ? study.description : '';
  return (
    <div className="form-grid">
      <div className="field">
        <label htmlFor={`${idPrefix}-date`}>Study date</label>
        <input
          id={`${idPrefix}-date`}
          type="text"
          aria-label={`${label} date`}
          aria-describedby={`${idPrefix}-date-hint`}
          placeholder={dateHint}
          value={date}
          onChange={(e) => onChange(setStudyField(spec, index, 'date', e.target.value.trim()))}
        />
        <span className="hint" id={`${idPrefix}-date-hint`}>
          {dateHint}
          {resolvedDate ? `; written as ${resolvedDate}` : ''}
        </span>
      </div>
      <div className="field">
        <label htmlFor={`${idPrefix}-desc`}>Description</label>
        <input
          id={`${idPrefix}-desc`}
          type="text"
          aria-label={`${label} description`}
          value={description}
          onChange={(e) => onChange(setStudyField(spec, index, 'description', e.target.value))}
        />
      </div>
      <div className="field">
        <label htmlFor={`${idPrefix}-views`}>Number of views</label>
        <input
          id={`${idPrefix}-views`}
          type="number"
          min={1}
          max={MAX_VIEWS}
          aria-label={`${label} number of views`}
          value={viewCount(study)}
          onChange={(e) => onChange(setViewCount(spec, index, Number(e.target.value)))}
        />
      </div>
      <div className="field field-check">
        <label className="check">
          <input
            type="checkbox"
            aria-label={`${label} cancerous`}
            checked={isCancerous(study)}
            onChange={(e) => onChange(setCancerous(spec, index, e.target.checked))}
          />{' '}
          Cancerous (a spiculated mass in every image)
        </label>
      </div>
    </div>
  );
}
