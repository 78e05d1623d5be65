import { useEffect, useState } from 'react';
import { get } from '../../../api';
import { InlineError } from '../../../components/Alerts';
import { useSticky } from '../../../state';
import type { SiteProfile, Spec, SpecPreview } from '../../../types';
import { addStudies, removeStudy, siteStudy, studiesOf } from './guidedSpec';
import { isoDate, rowsOfStudy } from './rows';
import StudyFields from './StudyFields';

interface Props {
  spec: Spec;
  preview: SpecPreview | null;
  onChange: (spec: Spec) => void;
}

/** Step 4: external priors as a partner site sends them (a site profile: its patient details and unit). */
export default function ExternalStep({ spec, preview, onChange }: Props) {
  const [sites, setSites] = useSticky<SiteProfile[] | null>('guided.sites', null);
  const [siteName, setSiteName] = useSticky('guided.site', 'generic');
  const [error, setError] = useState<unknown>(null);
  const [n, setN] = useState(1);
  useEffect(() => {
    if (!sites) get<SiteProfile[]>('/api/sites').then(setSites, setError);
  }, [sites, setSites]);
  const site = sites?.find((s) => s.name === siteName) ?? sites?.[0];
  const externals = studiesOf(spec, 'external_prior');
  return (
    <>
      <InlineError error={error} />
      <div className="form-grid">
        <div className="field">
          <label htmlFor="guided-site">Site profile</label>
          <select id="guided-site" value={site?.name ?? ''} onChange={(e) => setSiteName(e.target.value)}>
            {(sites ?? []).map((s) => (
              <option key={s.name} value={s.name}>
                {s.name}
              </option>
            ))}
          </select>
        </div>
      </div>
      {site && (
        <dl className="guided-site" data-testid="guided-site">
          <dt>Site</dt>
          <dd>{site.description}</dd>
          <dt>Patient name</dt>
          <dd>{site.patient_name ?? '—'}</dd>
          <dt>Birth date</dt>
          <dd>{site.birth_date ?? '—'}</dd>
          <dt>Patient ID</dt>
          <dd>
            {site.patient_id ?? '—'}
            {site.issuer ? ` (issuer ${site.issuer})` : ''}
          </dd>
          <dt>Institution</dt>
          <dd>{site.institution ?? '—'}</dd>
        </dl>
      )}
      <div className="inline-row">
        <label htmlFor="guided-add-external">External priors to add</label>
        <input id="guided-add-external" type="number" min={1} max={20} value={n} onChange={(e) => setN(Number(e.target.value))} />
        <button
          type="button"
          disabled={!site}
          onClick={() => site && onChange(addStudies(spec, 'external_prior', Math.max(1, Math.min(20, n || 1)), siteStudy(site)))}
        >
          Add external priors
        </button>
      </div>
      {!externals.length && <p className="muted">No external priors.</p>}
      {externals.map(({ index, study }, k) => {
        const rows = rowsOfStudy(preview, index);
        const label = `External prior ${k + 1}`;
        return (
          <fieldset key={index} className="guided-study" data-testid={`guided-external-${k + 1}`}>
            <legend>{label}</legend>
            <StudyFields
              spec={spec}
              index={index}
              study={study}
              label={label}
              idPrefix={`guided-ext-${k}`}
              onChange={onChange}
              resolvedDate={isoDate(rows[0]?.tags.StudyDate)}
              dateHint="e.g. -1y3m"
            />
            <p className="muted small-text">
              Patient {rows[0]?.tags.PatientName ?? '…'} ({rows[0]?.tags.PatientID ?? '…'}), born{' '}
              {isoDate(rows[0]?.tags.PatientBirthDate) || '…'}, {rows[0]?.tags.InstitutionName ?? ''}
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
