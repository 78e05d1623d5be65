import { useEffect, useState } from 'react';
import { buildUrl, get } from '../api';
import type { Dataset, TreeNode } from '../types';
import { useReportError } from './Alerts';
import { dicomFiles } from './FileTree';

export function thumbnailUrl(path: string, size = 160): string {
  return buildUrl('/api/preview/thumbnail', { path, size });
}

interface GridProps {
  files: TreeNode[];
  size?: number;
  limit?: number;
  onSelect?: (node: TreeNode) => void;
}

/** A grid of server-rendered thumbnails (`<img alt="thumbnail FILE">`). */
export function ThumbnailGrid({ files, size = 160, limit = 48, onSelect }: GridProps) {
  const [failed, setFailed] = useState<Set<string>>(() => new Set());
  const shown = files.slice(0, limit);
  if (!files.length) return <p className="muted">No DICOM files.</p>;
  return (
    <>
      <ul className="thumbs">
        {shown.map((f) => {
          const img = (
            <img
              alt={`thumbnail ${f.name}`}
              src={thumbnailUrl(f.path, size)}
              width={size}
              height={size}
              loading="lazy"
              onError={() => setFailed((prev) => new Set(prev).add(f.path))}
            />
          );
          return (
            <li key={f.path}>
              {onSelect ? (
                <button type="button" className="thumb-button" onClick={() => onSelect(f)} title={f.path}>
                  {img}
                </button>
              ) : (
                img
              )}
              <span className="thumb-name" title={f.name}>
                {f.name}
              </span>
              {failed.has(f.path) && <span className="thumb-failed">no preview (the server could not render this file)</span>}
            </li>
          );
        })}
      </ul>
      {files.length > shown.length && (
        <p className="muted">
          Showing {shown.length} of {files.length} images.
        </p>
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
