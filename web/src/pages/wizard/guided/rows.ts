import type { PreviewInstance, SpecPreview } from '../../../types';

/** The preview's instances of `patients[0].studies[index]`, in order. */
export function rowsOfStudy(preview: SpecPreview | null, index: number): PreviewInstance[] {
  if (!preview) return [];
  const prefix = `patients[0].studies[${index}].`;
  return preview.rows.filter((r) => r.path.startsWith(prefix));
}

/** `20240515` as `2024-05-15` (other texts as they are). */
export function isoDate(da: string | null | undefined): string {
  if (!da) return '';
  return /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6)}` : da;
}

/** `CC` + `R` → `RCC`. */
export function viewLabel(r: PreviewInstance): string {
  return `${r.tags.ImageLaterality ?? ''}${r.tags.ViewPosition ?? ''}` || '—';
}
