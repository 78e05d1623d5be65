import { useEffect, useState } from 'react';
import { post } from '../../../api';
import type { Spec, SpecPreview } from '../../../types';

/** Instances previewed at most: each is built as generate builds it (pixels drawn). */
const PREVIEW_LIMIT = 64;

/** What the spec will write, from the server (POST /api/spec/preview: the real planner and
 * dataset builder with the spec's seed), fetched again (debounced) as the spec changes. */
export function usePreview(spec: Spec): { preview: SpecPreview | null; error: unknown; loading: boolean } {
  const [preview, setPreview] = useState<SpecPreview | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  useEffect(() => {
    let live = true;
    setLoading(true);
    const t = window.setTimeout(() => {
      post<SpecPreview>('/api/spec/preview', { spec, limit: PREVIEW_LIMIT })
        .then((p) => {
          if (!live) return;
          setPreview(p);
          setError(null);
        })
        .catch((err) => live && setError(err))
        .finally(() => live && setLoading(false));
    }, 400);
    return () => {
      live = false;
      window.clearTimeout(t);
    };
  }, [spec]);
  return { preview, error, loading };
}
