import { formatBytes } from '../api';

export interface Upload {
  name: string;
  sent: number;
  total: number;
  cancel: () => void;
}

/** A running upload: how much is sent, and a button that cancels it. */
export default function UploadProgress({ upload }: { upload: Upload | null }) {
  if (!upload) return null;
  const pct = upload.total ? Math.round((100 * upload.sent) / upload.total) : 0;
  return (
    <div className="upload-progress" data-testid="upload-progress">
      <label htmlFor="upload-progress-bar">
        Uploading {upload.name}: {formatBytes(upload.sent)} of {formatBytes(upload.total)} ({pct}%)
      </label>
      <progress id="upload-progress-bar" max={upload.total || 1} value={upload.sent} />
      <button type="button" className="small" onClick={upload.cancel}>
        Cancel upload
      </button>
    </div>
  );
}
