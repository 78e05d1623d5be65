// Labels of the spec's fields in words: the DICOM dictionary's name where the field is an
// attribute's keyword (`sop_instance_uid` → "SOP Instance UID"), else the key's words with their
// acronyms kept ("IOD", "UID"), never pydantic's "Sop Instance Uid".
import { useEffect, useState } from 'react';
import { get } from '../api';
import type { DictionaryEntry } from '../types';

const ACRONYMS: Record<string, string> = {
  ae: 'AE', ai: 'AI', cad: 'CAD', dbt: 'DBT', dicom: 'DICOM', gsps: 'GSPS', id: 'ID', iod: 'IOD', kos: 'KOS',
  mg: 'MG', mm: 'mm', pacs: 'PACS', seg: 'SEG', sop: 'SOP', sr: 'SR', ts: 'TS', uid: 'UID', uids: 'UIDs',
  url: 'URL', vr: 'VR', vm: 'VM',
};

/** `sop_instance_uid` → "SOP Instance UID"; `remove_tags` → "Remove tags" (sentence case). */
export function wordLabel(key: string): string {
  const words = key
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .filter(Boolean);
  const out = words.map((w, k) => {
    const acronym = ACRONYMS[w.toLowerCase()];
    if (acronym) return acronym;
    return k === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w.toLowerCase();
  });
  // an attribute-like key keeps the DICOM style ("SOP Instance UID", "Study ID")
  if (words.some((w) => ACRONYMS[w.toLowerCase()] && w.length > 1) && out.length > 1)
    return out.map((w) => (w === w.toLowerCase() && w !== 'mm' ? w.charAt(0).toUpperCase() + w.slice(1) : w)).join(' ');
  return out.join(' ');
}

/** Dictionary names by field key: a name, or null when the key is no attribute's keyword. */
const names = new Map<string, string | null>();
const pending = new Map<string, Promise<void>>();

function lookUp(key: string): Promise<void> {
  let p = pending.get(key);
  if (!p) {
    const compact = key.replace(/_/g, '').toLowerCase();
    p = get<DictionaryEntry[]>('/api/dictionary', { q: compact, limit: 1 }).then(
      (list) => {
        const hit = list.find((e) => e.keyword.toLowerCase() === compact);
        names.set(key, hit ? hit.name : null);
      },
      () => {
        names.set(key, null);
      },
    );
    pending.set(key, p);
  }
  return p;
}

/** Only keys of two words or more may be keywords worth a look-up (`rows` is named well). */
const lookedUp = (key: string) => key.includes('_') && /(uid|_id|number|date|time)$/.test(key);

/** The label of each key, the dictionary's name once it has answered. */
export function useFieldLabels(keys: string[]): (key: string) => string {
  const [, setVersion] = useState(0);
  const joined = keys.join(',');
  useEffect(() => {
    let live = true;
    const missing = joined.split(',').filter((k) => k && lookedUp(k) && !names.has(k));
    if (missing.length)
      Promise.all(missing.map(lookUp)).then(() => {
        if (live) setVersion((v) => v + 1);
      });
    return () => {
      live = false;
    };
  }, [joined]);
  return (key) => names.get(key) ?? wordLabel(key);
}
