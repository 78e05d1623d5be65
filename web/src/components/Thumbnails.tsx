import { useEffect, useState } from 'react';
import { get } from '../api';
import type { Dataset, TreeNode } from '../types';
import { useReportError } from './Alerts';
import { dicomFiles } from './FileTree';
import HeaderView from './HeaderView';
import { imageCaption, patientText, ROLE_ORDER, studyText } from './imageLabels';
import { Preview } from './Preview';

export { thumbnailUrl } from './Preview';

interface Group {
  key: string;
  heading: string;
  studies: { key: string; heading: string; role: string; files: TreeNode[] }[];
}

/** Files grouped by patient, then study (current first, then priors, newest first). */
export function groupFiles(files: TreeNode[]): Group[] {
  const patients: Group[] = [];
  const other: TreeNode[] = [];
  for (const f of files) {
    const image = f.image;
    if (!image) {
      other.push(f);
      continue;
    }
    const pkey = `${image.patient_id}|${image.patient_name}`;
    let p = patients.find((g) => g.key === pkey);
    if (!p) {
      p = { key: pkey, heading: `Patient ${patientText(image)}`, studies: [] };
      patients.push(p);
    }
    let s = p.studies.find((x) => x.key === image.study_instance_uid);
    if (!s) {
      s = { key: image.study_instance_uid, heading: studyText(image), role: image.role, files: [] };
      p.studies.push(s);
    }
    s.files.push(f);
  }
  for (const p of patients) {
    p.studies.sort(
      (a, b) =>
        ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role) ||
        (b.files[0].image?.study_date ?? '').localeCompare(a.files[0].image?.study_date ?? ''),
    );
    for (const s of p.studies) s.files.sort((a, b) => (a.image?.instance_number ?? 0) - (b.image?.instance_number ?? 0));
  }
  if (other.length) patients.push({ key: '', heading: 'Other files', studies: [{ key: '', heading: '', role: '', files: other }] });
  return patients;
}

interface GridProps {
  files: TreeNode[];
  size?: number;
  limit?: number;
  /** Opens a file; without it the grid opens the file's header and larger image itself. */
  onSelect?: (node: TreeNode) => void;
  selected?: string | null;
}

function Thumb({ f, size, onOpen, selected }: { f: TreeNode; size: number; onOpen: (f: TreeNode) => void; selected: boolean }) {
  const caption = imageCaption(f.image);
  const alt = `thumbnail ${caption || f.name}`;
  return (
    <li className={`role-${f.image?.role ?? 'none'}${selected ? ' selected' : ''}`} data-testid="thumb">
      <button
        type="button"
        className="thumb-button"
        onClick={() => onOpen(f)}
        title={f.path}
        aria-pressed={selected}
        aria-label={`Open ${caption || f.name}${f.image ? `, ${patientText(f.image)}` : ''}`}
      >
        <Preview path={f.path} size={size} alt={alt} />
      </button>
      {caption && (
        <span className="thumb-label" data-testid="thumb-label">
          {caption}
        </span>
      )}
      <span className="thumb-name" title={f.name}>
        {f.name}
      </span>
    </li>
  );
}

/** Server-rendered thumbnails, labelled (view, laterality, role) and grouped by patient and study. */
export function ThumbnailGrid({ files, size = 160, limit = 48, onSelect, selected }: GridProps) {
  const [opened, setOpened] = useState<TreeNode | null>(null);
  const shown = files.slice(0, limit);
  if (!files.length) return <p className="muted">No DICOM files.</p>;
  const open = onSelect ?? ((f: TreeNode) => setOpened((prev) => (prev?.path === f.path ? null : f)));
  const current = onSelect ? selected : opened?.path;
  return (
    <>
      {groupFiles(shown).map((p) => (
        <section className="thumb-patient" key={p.key} aria-label={p.heading}>
          <h5 className="thumb-heading">{p.heading}</h5>
          {p.studies.map((s) => (
            <section className={`thumb-study role-${s.role || 'none'}`} key={s.key} aria-label={s.heading || p.heading}>
              {s.heading && <h6 className="thumb-heading">{s.heading}</h6>}
              <ul className="thumbs">
                {s.files.map((f) => (
                  <Thumb key={f.path} f={f} size={size} onOpen={open} selected={current === f.path} />
                ))}
              </ul>
            </section>
          ))}
        </section>
      ))}
      {files.length > shown.length && (
        <p className="muted">
          Showing {shown.length} of {files.length} images.
        </p>
      )}
      {!onSelect && opened && (
        <div className="thumb-opened">
          <button type="button" className="small" onClick={() => setOpened(null)}>
            Close {imageCaption(opened.image) || opened.name}
          </button>
          <HeaderView key={opened.path} path={opened.path} name={opened.name} image={opened.image} />
        </div>
      )}
    </>
  );
}

/** The thumbnails of one dataset folder (found via /api/datasets/tree). */
export function DatasetThumbnails({ path, name, limit }: { path: string; name: string; limit?: number }) {
  const [files, setFiles] = useState<TreeNode[] | null>(null);
  const report = useReportError();
  useEffect(() => {
    const ctrl = new AbortController();
    get<TreeNode>('/api/datasets/tree', { path }, ctrl.signal).then(
      (tree) => setFiles(dicomFiles(tree)),
      (err) => report(err, `Listing ${name}`),
    );
    return () => ctrl.abort();
  }, [path, name, report]);
  return (
    <section className="dataset-thumbs" aria-label={`Images of ${name}`}>
      <h4>
        {name} {files && <span className="muted">({files.length} images)</span>}
      </h4>
      {files ? <ThumbnailGrid files={files} limit={limit} /> : <p className="muted">Loading…</p>}
    </section>
  );
}

/**
 * Thumbnails of generated datasets: looks the datasets up in the output folder
 * (/api/datasets?output=), then shows each one's images.
 */
export default function Thumbnails({
  output,
  datasets,
}: {
  output: string;
  datasets: { name: string; path?: string }[];
}) {
  const [found, setFound] = useState<{ name: string; path: string }[] | null>(null);
  const report = useReportError();
  const key = datasets.map((d) => `${d.name}=${d.path ?? ''}`).join('|');
  useEffect(() => {
    const ctrl = new AbortController();
    get<Dataset[]>('/api/datasets', { output }, ctrl.signal)
      .then((list) => {
        setFound(
          datasets
            .map((d) => {
              const hit = list.find((x) => x.name === d.name || x.path === d.path);
              return { name: d.name, path: hit?.path ?? d.path ?? '' };
            })
            .filter((d) => d.path),
        );
      })
      .catch((err) => {
        report(err, 'Listing the output folder');
        setFound(datasets.filter((d) => d.path).map((d) => ({ name: d.name, path: d.path as string })));
      });
    return () => ctrl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [output, key, report]);
  if (!found) return <p className="muted">Loading thumbnails…</p>;
  return (
    <div className="thumbnails">
      {found.map((d) => (
        <DatasetThumbnails key={d.path} path={d.path} name={d.name} limit={24} />
      ))}
    </div>
  );
}
