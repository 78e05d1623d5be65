import { useEffect, useState } from 'react';
import { ApiError, buildUrl, errorParts, get } from '../api';

export function thumbnailUrl(path: string, size = 160): string {
  return buildUrl('/api/preview/thumbnail', { path, size });
}

/** Why the server could not render a thumbnail: asks again and reads its error answer. */
async function whyNoImage(path: string): Promise<string> {
  try {
    await get<unknown>('/api/preview/thumbnail', { path, size: 16 });
    return 'the image could not be decoded';
  } catch (err) {
    if (!(err instanceof ApiError)) return 'the server did not answer';
    const { message, issues } = errorParts(err);
    const text = issues.length ? issues[0].message : message || `error ${err.status}`;
    return text.replace(/^cannot preview [^:]*:\s*/, '');
  }
}

/**
 * A server-rendered image, or a clear placeholder saying why there is none (a file without
 * pixel data, a corrupted one, a 404) instead of alt text on black.
 */
export function Preview({ path, size, alt, className }: { path: string; size: number; alt: string; className?: string }) {
  const [broken, setBroken] = useState<string | null>(null);
  useEffect(() => setBroken(null), [path]);
  if (broken !== null) {
    return (
      <div className={`thumb-broken ${className ?? ''}`} role="img" aria-label={`${alt}: no image: ${broken}`} data-testid="no-image">
        <span>no image: {broken || '…'}</span>
      </div>
    );
  }
  return (
    <img
      className={className}
      alt={alt}
      src={thumbnailUrl(path, size)}
      width={size}
      height={size}
      loading="lazy"
      onError={() => {
        setBroken('');
        whyNoImage(path).then(setBroken);
      }}
    />
  );
}

