import { useRef, useState, type ChangeEvent } from 'react';
import { checkUploadSize, post, postWithProgress } from '../../api';
import { InlineError, useReportError } from '../../components/Alerts';
import UploadProgress, { type Upload } from '../../components/UploadProgress';
import type { ExportResult, ImportResult, Spec } from '../../types';

function download(text: string, filename: string, type: string) {
  const blob = new Blob([text], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

interface Props {
  spec: Spec;
  /** A spec read from a file, or a new one, replaces the wizard's. */
  onLoad: (spec: Spec, notes: string[]) => void;
  onNew: () => void;
  onNotes: (notes: string[]) => void;
}

/** The wizard's file actions: import a spec file (YAML, JSON, the old config), export it, start anew. */
export default function SpecActions({ spec, onLoad, onNew, onNotes }: Props) {
  const report = useReportError();
  const [importError, setImportError] = useState<unknown>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const [upload, setUpload] = useState<Upload | null>(null);

  const onImport = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (!file) return;
    setImportError(null);
    // a big file: refused before it is read if over the server's limit, else sent with progress and Cancel
    const ctrl = new AbortController();
    const progress = (sent: number, total: number) => setUpload({ name: file.name, sent, total, cancel: () => ctrl.abort() });
    try {
      checkUploadSize(file);
      const text = await file.text();
      const answer = await postWithProgress<ImportResult>('/api/spec/import', { text, filename: file.name }, progress, ctrl.signal);
      onLoad(answer.spec, [`Imported ${file.name}.`, ...answer.notes]);
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') setImportError(`Import of ${file.name} cancelled.`);
      else setImportError(err);
    } finally {
      setUpload(null);
      if (fileRef.current) fileRef.current.value = '';
    }
  };

  const onExport = async (format: 'yaml' | 'json') => {
    try {
      const answer = await post<ExportResult>('/api/spec/export', { spec, format });
      const base = typeof spec.name === 'string' && spec.name ? spec.name : 'spec';
      download(answer.text, `${base}.${format}`, format === 'json' ? 'application/json' : 'application/yaml');
    } catch (err) {
      report(err, `Export ${format.toUpperCase()}`);
    }
  };

  const onExportLegacy = async () => {
    try {
      const answer = await post<ExportResult>('/api/spec/export', { spec, format: 'legacy' });
      download(answer.text, 'power-customize.json', 'application/json');
      onNotes(['Exported power-customize.json (the old config format).', ...(answer.notes ?? [])]);
    } catch (err) {
      report(err, 'Export old config');
    }
  };

  return (
    <>
      <div className="page-head">
        <h2 id="wizard-title">Wizard</h2>
        <div className="actions">
          <label className="file-label">
            Import spec file
            <input ref={fileRef} type="file" accept=".yaml,.yml,.json" onChange={onImport} />
          </label>
          <button type="button" onClick={() => onExport('yaml')}>
            Export YAML
          </button>
          <button type="button" onClick={() => onExport('json')}>
            Export JSON
          </button>
          <button type="button" onClick={onExportLegacy} title="The predecessor's power-customize JSON">
            Export old config
          </button>
          <button type="button" onClick={onNew}>
            New spec
          </button>
        </div>
      </div>
      <UploadProgress upload={upload} />
      <InlineError error={importError} />
    </>
  );
}
