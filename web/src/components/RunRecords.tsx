import { Fragment, useEffect, useState } from 'react';
import { get } from '../api';
import type { InstanceRecord, ScenarioRecords, StudyRecord } from '../types';
import { InlineError } from './Alerts';
import HeaderView from './HeaderView';
import { thumbnailUrl } from './Thumbnails';

/** Which records a results table shows. */
export type RecordFilter = 'all' | 'failed' | 'not checked';

const NOT_PASSED = new Set(['fail', 'pre-existing']);

/** Whether a record (instance or study) passes the filter. */
export function keep(status: string, filter: RecordFilter): boolean {
  if (filter === 'failed') return NOT_PASSED.has(status);
  if (filter === 'not checked') return status === 'not checked';
  return true;
}

/** The status of a record as a badge; a pass through the target's override says so. */
export function StatusBadge({ status, override }: { status: string; override?: string | null }) {
  const cls = status === 'pass' ? 'outcome-accept' : NOT_PASSED.has(status) ? 'outcome-reject' : 'outcome-warn';
  const text = status === 'pass' && override ? `pass (override ${override})` : status === 'fail' ? 'FAIL' : status;
  return (
    <span className={`badge ${cls}${override && status === 'pass' ? ' badge-override' : ''}`} data-testid="record-status">
      {text}
    </span>
  );
}

/** A small thumbnail of the record's file; a clear placeholder when there is none or it cannot be drawn. */
function RecordThumb({ record }: { record: InstanceRecord }) {
  const [broken, setBroken] = useState(false);
  if (!record.path || broken) {
    const why = !record.written ? 'not written' : !record.path ? 'no file' : 'no preview';
    return (
      <span className="record-thumb record-thumb-missing" role="img" aria-label={`${record.label}: ${why}`}>
        {why}
      </span>
    );
  }
  return (
    <img
      className="record-thumb"
      src={thumbnailUrl(record.path, 64)}
      alt={`thumbnail ${record.label}`}
      width={64}
      height={64}
      loading="lazy"
      onError={() => setBroken(true)}
    />
  );
}

function Evidence({ record }: { record: InstanceRecord | StudyRecord }) {
  if (!record.evidence?.length) return null;
  return (
    <ul className="record-evidence">
      {record.evidence.map((e) => (
        <li key={e.verifier}>
          <strong>{e.verifier}</strong>: {e.status} — {e.reason}
        </li>
      ))}
    </ul>
  );
}

const ingestText = (i: InstanceRecord) => {
  const ing = i.ingest as { outcome?: string; status?: string; reason?: string } | null;
  if (!ing) return '—';
  return [ing.outcome, ing.status, ing.reason].filter(Boolean).join(' ');
};

/** A scenario of a run, record by record: its studies, then its instances with thumbnails; a record that did not pass opens its header and image. */
export default function RunRecords({ runId, name, filter }: { runId: string; name: string; filter: RecordFilter }) {
  const [data, setData] = useState<ScenarioRecords | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [opened, setOpened] = useState<string | null>(null);
  useEffect(() => {
    const ctrl = new AbortController();
    setData(null);
    setError(null);
    get<ScenarioRecords>(`/api/runs/${encodeURIComponent(runId)}/scenarios/${encodeURIComponent(name)}`, undefined, ctrl.signal).then(
      setData,
      (err) => {
        if (!(err instanceof DOMException)) setError(err);
      },
    );
    return () => ctrl.abort();
  }, [runId, name]);

  if (error) return <InlineError error={error} />;
  if (!data) return <p className="muted">Loading the records of {name}…</p>;
  const studies = data.studies.filter((s) => keep(s.status, filter));
  const instances = data.instances.filter((i) => keep(i.status, filter));
  return (
    <div className="run-records" data-testid={`run-records-${name}`}>
      <h4>Studies</h4>
      {studies.length === 0 ? (
        <p className="muted">No study {filter === 'all' ? '' : `${filter} `}in this scenario.</p>
      ) : (
        <div className="table-scroll">
          <table className="data records">
            <caption className="sr-only">Studies of {name}</caption>
            <thead>
              <tr>
                <th scope="col">Study</th>
                <th scope="col">Patient</th>
                <th scope="col">Expected</th>
                <th scope="col">Result</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {studies.map((s) => (
                <tr key={s.study_instance_uid + s.expected_outcome} data-testid="study-record">
                  <th scope="row">
                    {s.role}
                    <div className="mono small-text uid">{s.study_instance_uid}</div>
                  </th>
                  <td className="mono">{s.patient_id}</td>
                  <td>{s.expected_outcome}</td>
                  <td>
                    <StatusBadge status={s.status} />
                  </td>
                  <td>
                    {s.reason}
                    <Evidence record={s} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h4>Instances</h4>
      {instances.length === 0 ? (
        <p className="muted">No instance {filter === 'all' ? '' : `${filter} `}in this scenario.</p>
      ) : (
        <div className="table-scroll">
          <table className="data records">
            <caption className="sr-only">Instances of {name}</caption>
            <thead>
              <tr>
                <th scope="col">Image</th>
                <th scope="col">Instance</th>
                <th scope="col">Expected</th>
                <th scope="col">Ingest</th>
                <th scope="col">Result</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {instances.map((i) => {
                const key = i.sop_instance_uid + i.file;
                return (
                  <Fragment key={key}>
                    <tr data-testid="instance-record" className={i.status === 'pass' ? 'pass' : 'fail'}>
                      <td>
                        <RecordThumb record={i} />
                      </td>
                      <th scope="row">
                        {i.label}
                        <div className="mono small-text uid">{i.sop_instance_uid}</div>
                      </th>
                      <td>
                        {i.expected_outcome}
                        {i.override && <div className="small-text">scenario declares {i.declared_outcome}</div>}
                      </td>
                      <td className="small-text">{ingestText(i)}</td>
                      <td>
                        <StatusBadge status={i.status} override={i.override} />
                      </td>
                      <td>
                        {i.reason}
                        {i.mismatches.length > 0 && (
                          <ul className="record-evidence">
                            {i.mismatches.map((m, n) => (
                              <li key={n}>{Object.values(m).join(' · ')}</li>
                            ))}
                          </ul>
                        )}
                        <Evidence record={i} />
                        {i.status !== 'pass' && i.path && (
                          <button
                            type="button"
                            className="small"
                            aria-expanded={opened === key}
                            onClick={() => setOpened((o) => (o === key ? null : key))}
                          >
                            {opened === key ? 'Close header' : `Open header of ${i.label}`}
                          </button>
                        )}
                      </td>
                    </tr>
                    {opened === key && i.path && (
                      <tr className="details-row">
                        <td colSpan={6}>
                          <HeaderView path={i.path} name={`${i.label} ${i.sop_instance_uid}`} />
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
