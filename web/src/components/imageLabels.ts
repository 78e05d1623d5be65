// What an image is, in words, from the manifest label the tree listing sends (ImageLabel).
import type { ImageLabel } from '../types';

const ROLES: Record<string, string> = { current: 'current', prior: 'prior', external_prior: 'external prior' };
export const ROLE_ORDER = ['current', 'prior', 'external_prior'];

export function roleText(role: string): string {
  return ROLES[role] ?? role;
}

/** `RCC · R · current`: what an image is, from its manifest label. */
export function imageCaption(image: ImageLabel | null | undefined): string {
  if (!image) return '';
  const view = image.view || image.modality || image.iod;
  const parts = [view];
  if (image.laterality && !(image.view || '').startsWith(image.laterality)) parts.push(image.laterality);
  parts.push(roleText(image.role));
  return parts.filter(Boolean).join(' · ');
}

export function patientText(image: ImageLabel): string {
  const name = image.patient_name.replace(/\^/g, ' ').trim() || '(no name)';
  return image.patient_id ? `${name} (${image.patient_id})` : name;
}

export function studyText(image: ImageLabel): string {
  return [roleText(image.role), image.study_date, image.study_description].filter(Boolean).join(' · ');
}
