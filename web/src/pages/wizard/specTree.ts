// A spec as a tree the wizard walks: patients → studies → series → instances, the selected
// node, and immutable edits at a path.
import type { Issue, Spec } from '../../types';

export type Obj = Record<string, unknown>;
export type Level = 'spec' | 'patient' | 'study' | 'series' | 'instance';
/** The selected level, and the index chosen at each level (kept when a shallower level is shown). */
export interface Sel {
  level: Level;
  p: number;
  s: number;
  r: number;
  i: number;
}
type PathPart = string | number;

/** A new spec: small images, as the other pages generate by default. */
export const NEW_SPEC: Spec = {
  name: 'power_customized_dataset',
  defaults: { pixels: { size: 'small' } },
  patients: [{ studies: [{ role: 'current', series: [{}] }] }],
};
export const TOP: Sel = { level: 'spec', p: 0, s: 0, r: 0, i: 0 };
export const FIRST_STUDY: Sel = { ...TOP, level: 'study' };

export const asObj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
export const asList = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

/** Each level's children: their key, and their definition in the spec's JSON Schema. */
export const LEVEL_CHILD: Record<Level, { key: string; level: Level; def: string } | null> = {
  spec: { key: 'patients', level: 'patient', def: 'PatientSpec' },
  patient: { key: 'studies', level: 'study', def: 'StudySpec' },
  study: { key: 'series', level: 'series', def: 'SeriesSpec' },
  series: { key: 'instances', level: 'instance', def: 'InstanceSpec' },
  instance: null,
};
export const CHILD_KEYS = ['patients', 'studies', 'series', 'instances'];
export const NOUN: Record<Level, string> = { spec: 'dataset', patient: 'patient', study: 'study', series: 'series', instance: 'instance' };

export function getIn(obj: unknown, path: PathPart[]): unknown {
  let cur: unknown = obj;
  for (const part of path) {
    if (cur === null || cur === undefined) return undefined;
    cur = (cur as Record<string | number, unknown>)[part];
  }
  return cur;
}

export function setIn(obj: unknown, path: PathPart[], value: unknown): unknown {
  if (!path.length) return value;
  const [head, ...rest] = path;
  if (typeof head === 'number') {
    const list = Array.isArray(obj) ? obj.slice() : [];
    list[head] = setIn(list[head], rest, value);
    return list;
  }
  const o = { ...asObj(obj) };
  const next = setIn(o[head], rest, value);
  if (next === undefined) delete o[head];
  else o[head] = next;
  return o;
}

export function nodePath(sel: Sel, level: Level = sel.level): PathPart[] {
  const out: PathPart[] = [];
  if (level === 'spec') return out;
  out.push('patients', sel.p);
  if (level === 'patient') return out;
  out.push('studies', sel.s);
  if (level === 'study') return out;
  out.push('series', sel.r);
  if (level === 'series') return out;
  out.push('instances', sel.i);
  return out;
}

/** `patients[0].studies[1]`: how issues name a node. */
export function pathString(path: PathPart[]): string {
  return path.map((p, k) => (typeof p === 'number' ? `[${p}]` : k === 0 ? p : `.${p}`)).join('');
}

/** A selection of node `index` at `level`, keeping the choices above it. */
export function select(sel: Sel, level: Level, index: number): Sel {
  if (level === 'patient') return { ...sel, level, p: index, s: 0, r: 0, i: 0 };
  if (level === 'study') return { ...sel, level, s: index, r: 0, i: 0 };
  if (level === 'series') return { ...sel, level, r: index, i: 0 };
  if (level === 'instance') return { ...sel, level, i: index };
  return { ...sel, level };
}

/** An issue's path relative to the spec (the request's `spec.` prefix removed). */
export function normaliseIssue(i: Issue): Issue {
  return { ...i, path: (i.path || '').replace(/^(body\.)?spec\.?/, '').replace(/^\$\.?/, '') };
}

/** The node an issue's path names. */
export function selFromIssue(path: string): Sel {
  const m = /^patients\[(\d+)\](?:\.studies\[(\d+)\](?:\.series\[(\d+)\](?:\.instances\[(\d+)\])?)?)?/.exec(path);
  if (!m) return TOP;
  const [p, s, r, i] = m.slice(1).map((x) => (x === undefined ? -1 : Number(x)));
  const level: Level = i >= 0 ? 'instance' : r >= 0 ? 'series' : s >= 0 ? 'study' : 'patient';
  return { level, p, s: Math.max(s, 0), r: Math.max(r, 0), i: Math.max(i, 0) };
}

/** `sel` moved inside `spec` (after a node was removed, or another spec loaded). */
export function clampSelection(spec: Spec, sel: Sel): Sel {
  const fix = { ...sel };
  const clamp = (n: number, len: number) => (len === 0 ? 0 : Math.min(Math.max(n, 0), len - 1));
  const patients = asList(spec.patients);
  fix.p = clamp(fix.p, patients.length);
  const st = asList(asObj(patients[fix.p]).studies);
  fix.s = clamp(fix.s, st.length);
  const se = asList(asObj(st[fix.s]).series);
  fix.r = clamp(fix.r, se.length);
  const ins = asList(asObj(se[fix.r]).instances);
  fix.i = clamp(fix.i, ins.length);
  const exists =
    fix.level === 'spec' ||
    (fix.level === 'patient' && patients.length > 0) ||
    (fix.level === 'study' && st.length > 0) ||
    (fix.level === 'series' && se.length > 0) ||
    (fix.level === 'instance' && ins.length > 0);
  if (!exists) fix.level = 'spec';
  return fix;
}

/** One line about a node for the navigator. */
export function describe(level: Level, node: Obj, n: number): string {
  switch (level) {
    case 'patient':
      return [node.name, node.id].filter(Boolean).join(' · ');
    case 'study':
      return [node.role ?? 'current', node.date, node.iod].filter(Boolean).join(' · ');
    case 'series':
      return [
        Array.isArray(node.views) ? (node.views as string[]).join(' ') : null,
        node.count !== undefined && node.count !== null ? `×${node.count}` : null,
        node.iod,
        node.description,
      ]
        .filter(Boolean)
        .join(' · ');
    case 'instance':
      return [node.view, node.file_name, node.skip_writing ? 'not written' : null].filter(Boolean).join(' · ') || `#${n}`;
    default:
      return '';
  }
}

/** The heading of the node editor. */
export function heading(sel: Sel): string {
  switch (sel.level) {
    case 'spec':
      return 'Dataset settings';
    case 'patient':
      return `Patient ${sel.p + 1}`;
    case 'study':
      return `Study ${sel.s + 1} of patient ${sel.p + 1}`;
    case 'series':
      return `Series ${sel.r + 1} of study ${sel.s + 1}`;
    default:
      return `Instance ${sel.i + 1} of series ${sel.r + 1}`;
  }
}

/** `spec` with a new child under the selected `parent` node, and the selection of that child. */
export function addChild(spec: Spec, sel: Sel, parent: Level): [Spec, Sel] {
  const child = LEVEL_CHILD[parent]!;
  const at = [...nodePath(sel, parent), child.key];
  const list = asList(getIn(spec, at));
  const item: Obj =
    child.key === 'patients'
      ? { studies: [{ role: 'current', series: [{}] }] }
      : child.key === 'studies'
        ? { role: list.some((x) => (x.role ?? 'current') === 'current') ? 'prior' : 'current', series: [{}] }
        : {};
  return [setIn(spec, at, [...list, item]) as Spec, select(sel, child.level, list.length)];
}

/** `spec` without child `index` of the selected `parent` node. */
export function removeChild(spec: Spec, sel: Sel, parent: Level, index: number): Spec {
  const child = LEVEL_CHILD[parent]!;
  const at = [...nodePath(sel, parent), child.key];
  const next = asList(getIn(spec, at)).filter((_, k) => k !== index);
  return setIn(spec, at, next.length ? next : undefined) as Spec;
}

/** The IOD the selected node's instances get: the deepest `iod` set on the way down to it
 * (dataset defaults, patient, study, series, instance), else the default (`mg`). */
export function effectiveIod(spec: Spec, sel: Sel): string {
  let iod = asObj(spec.defaults).iod;
  const levels: Level[] = ['patient', 'study', 'series', 'instance'];
  const depth = levels.indexOf(sel.level);
  for (const level of levels.slice(0, depth + 1)) {
    const node = asObj(getIn(spec, nodePath(sel, level)));
    if (typeof node.iod === 'string' && node.iod.trim()) iod = node.iod;
  }
  return typeof iod === 'string' && iod.trim() ? iod.trim() : 'mg';
}
