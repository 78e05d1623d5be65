import { ImageSizeField } from '../../../components/ImageSizeField';
import type { Spec, SpecPreview } from '../../../types';
import { ensureCurrent, imageSize, setImageSize } from './guidedSpec';
import { isoDate, rowsOfStudy, viewLabel } from './rows';
import StudyFields from './StudyFields';

interface Props {
  spec: Spec;
  preview: SpecPreview | null;
  onChange: (spec: Spec) => void;
}

/** Step 1: the current study (date, description, views, cancerous) and the image size. */
export default function CurrentStep({ spec, preview, onChange }: Props) {
  const [withCurrent, index] = ensureCurrent(spec);
  const study = ((withCurrent.patients as { studies: Record<string, unknown>[] }[])[0].studies[index] ?? {}) as Record<
    string,
    unknown
  >;
  const rows = rowsOfStudy(preview, index);
  return (
    <>
      <StudyFields
        spec={withCurrent}
        index={index}
        study={study}
        label="Current study"
        idPrefix="guided-current"
        onChange={onChange}
        resolvedDate={isoDate(rows[0]?.tags.StudyDate)}
        dateHint="YYYY-MM-DD; empty: a date from the seed"
      />
      <div className="form-grid">
        <ImageSizeField id="guided-size" value={imageSize(spec)} onChange={(size) => onChange(setImageSize(withCurrent, size))} />
      </div>
      <p className="muted" data-testid="guided-current-views">
        Views: {rows.length ? rows.map(viewLabel).join(' ') : '…'}
      </p>
    </>
  );
}
