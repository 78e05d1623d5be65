// The guided flow's view of a spec: the first patient's current study, internal priors and
// external priors, read from and written into the same spec object the tree editor edits (so
// switching modes keeps the work). Every edit returns a new spec.
import type { SiteProfile, Spec } from '../../../types';
import { asList, asObj, getIn, setIn, type Obj } from '../specTree';

export type Role = 'current' | 'prior' | 'external_prior';

/** The keywords the "Its tags" step shows per image (read from the server's preview). */
export const BASE_TAGS = [
  'PatientName',
  'PatientID',
  'PatientBirthDate',
  'AccessionNumber',
  'StudyDate',
  'StudyDescription',
  'ViewPosition',
  'ImageLaterality',
  'Rows',
  'Columns',
  'BitsAllocated',
  'BitsStored',
] as const;
/** Tags whose values are numbers in a spec. */
export const NUMERIC_TAGS = new Set(['Rows', 'Columns', 'BitsAllocated', 'BitsStored']);

export const DEFAULT_VIEWS = 4;
export const MAX_VIEWS = 8;

/** Dataset names must be one folder name; the old tool's. */
export const GUIDED_NAME = 'power_customized_dataset';

/** A study of the first patient, with its index in `patients[0].studies`. */
export interface StudyRef {
  index: number;
  study: Obj;
}

const studiesPath = ['patients', 0, 'studies'];

export function studies(spec: Spec): Obj[] {
  return asList(getIn(spec, studiesPath));
}

export function studiesOf(spec: Spec, role: Role): StudyRef[] {
  return studies(spec)
    .map((study, index) => ({ index, study }))
    .filter(({ study }) => (study.role ?? 'current') === role);
}

/** The current study (created when the spec has none). */
export function ensureCurrent(spec: Spec): [Spec, number] {
  const found = studiesOf(spec, 'current')[0];
  if (found) return [spec, found.index];
  const list = studies(spec);
  const next = setIn(spec, studiesPath, [{ role: 'current', series: [{}] }, ...list]) as Spec;
  return [next, 0];
}

export function setStudyField(spec: Spec, index: number, key: string, value: unknown): Spec {
  return setIn(spec, [...studiesPath, index, key], value === '' ? undefined : value) as Spec;
}

export function isCancerous(study: Obj): boolean {
  const lesion = asObj(study.pixels).lesion;
  return lesion === 'mass' || lesion === 'calcifications';
}

export function setCancerous(spec: Spec, index: number, on: boolean): Spec {
  return setIn(spec, [...studiesPath, index, 'pixels', 'lesion'], on ? 'mass' : undefined) as Spec;
}

/** The number of images of a study's first series (`count`, else its views or instances, else the IOD's 4). */
export function viewCount(study: Obj): number {
  const series = asObj(asList(study.series)[0]);
  if (typeof series.count === 'number') return series.count;
  if (Array.isArray(series.views)) return series.views.length;
  if (Array.isArray(series.instances) && series.instances.length) return series.instances.length;
  return DEFAULT_VIEWS;
}

/** `count` images (the screening views RCC LCC RMLO LMLO, repeated past four). */
export function setViewCount(spec: Spec, index: number, count: number): Spec {
  const n = Math.max(1, Math.min(MAX_VIEWS, Math.round(count) || DEFAULT_VIEWS));
  const seriesPath = [...studiesPath, index, 'series'];
  const list = asList(getIn(spec, seriesPath));
  const first = { ...asObj(list[0]), count: n };
  return setIn(spec, seriesPath, [first, ...list.slice(1)]) as Spec;
}

const instancePath = (study: number, image: number) => [...studiesPath, study, 'series', 0, 'instances', image];

/** `instances[image]` of the study's first series, with the list filled up to it (no holes). */
function withInstance(spec: Spec, study: number, image: number): Spec {
  const seriesPath = [...studiesPath, study, 'series', 0];
  const series = asObj(getIn(spec, seriesPath));
  const list = asList(series.instances).slice();
  while (list.length <= image) list.push({});
  const next: Obj = { ...series, instances: list };
  // listed instances alone would make the series that many images: keep the number it had
  if (typeof series.count !== 'number' && !Array.isArray(series.views))
    next.count = viewCount(asObj(getIn(spec, [...studiesPath, study])));
  return setIn(spec, seriesPath, next) as Spec;
}

export function instanceTag(spec: Spec, study: number, image: number, keyword: string): unknown {
  return getIn(spec, [...instancePath(study, image), 'tags', keyword]);
}

/** Sets (or, for '', removes) an image's own tag: what the spec will write over the generated value. */
export function setInstanceTag(spec: Spec, study: number, image: number, keyword: string, text: string): Spec {
  let value: unknown = text === '' ? undefined : text;
  if (value !== undefined && NUMERIC_TAGS.has(keyword) && /^\d+$/.test(text)) value = Number(text);
  const next = withInstance(spec, study, image);
  return setIn(next, [...instancePath(study, image), 'tags', keyword], value) as Spec;
}

/** Per image "cancerous": a lesion only where it differs from the study's. */
export function imageCancerous(spec: Spec, study: number, image: number): boolean {
  const own = getIn(spec, [...instancePath(study, image), 'pixels', 'lesion']);
  if (own === 'none') return false;
  if (own === 'mass' || own === 'calcifications') return true;
  return isCancerous(asObj(getIn(spec, [...studiesPath, study])));
}

export function setImageCancerous(spec: Spec, study: number, image: number, on: boolean): Spec {
  const studyOn = isCancerous(asObj(getIn(spec, [...studiesPath, study])));
  const next = withInstance(spec, study, image);
  const value = on === studyOn ? undefined : on ? 'mass' : 'none';
  return setIn(next, [...instancePath(study, image), 'pixels', 'lesion'], value) as Spec;
}

/** Adds `n` studies of `role` after the last one, dated a year apart back from the current study. */
export function addStudies(spec: Spec, role: 'prior' | 'external_prior', n: number, extra: Obj = {}): Spec {
  const list = studies(spec);
  const already = list.filter((s) => s.role === role).length;
  const added: Obj[] = [];
  for (let k = 1; k <= n; k++) {
    const years = already + k;
    const date = role === 'prior' ? `-${years}y` : `-${years}y3m`;
    added.push({ role, date, ...extra });
  }
  return setIn(spec, studiesPath, [...list, ...added]) as Spec;
}

export function removeStudy(spec: Spec, index: number): Spec {
  return setIn(spec, studiesPath, studies(spec).filter((_, i) => i !== index)) as Spec;
}

/** An external prior as the site writes it: its patient, issuer, institution and unit. */
export function siteStudy(site: SiteProfile): Obj {
  const tags: Obj = {};
  const put = (k: string, v: string | null) => {
    if (v) tags[k] = v;
  };
  put('PatientName', site.patient_name);
  put('PatientID', site.patient_id);
  put('PatientBirthDate', site.birth_date ? site.birth_date.replace(/-/g, '') : null);
  put('PatientSex', site.sex);
  put('IssuerOfPatientID', site.issuer);
  put('InstitutionName', site.institution);
  put('StationName', site.station);
  put('Manufacturer', site.manufacturer);
  put('ManufacturerModelName', site.model);
  const study: Obj = { description: `OUTSIDE MAMMO (${site.name})`, tags };
  if (site.vendor) study.vendor = site.vendor;
  if (!site.issuer) study.remove_tags = ['IssuerOfPatientID'];
  return study;
}

export function seedOf(spec: Spec): number {
  return typeof spec.seed === 'number' ? spec.seed : 0;
}

export function newSeed(spec: Spec): Spec {
  const buf = new Uint32Array(1);
  crypto.getRandomValues(buf);
  return { ...spec, seed: buf[0] };
}

export function imageSize(spec: Spec): string {
  const size = getIn(spec, ['defaults', 'pixels', 'size']);
  return typeof size === 'string' ? size : 'full';
}

export function setImageSize(spec: Spec, size: string): Spec {
  return setIn(spec, ['defaults', 'pixels', 'size'], size === 'full' ? undefined : size) as Spec;
}
