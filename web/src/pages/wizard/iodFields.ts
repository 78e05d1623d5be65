// What the wizard's form offers for the IOD a node builds: a derived object (SR, SEG, GSPS,
// KOS, AI capture) gets `references` and the `content` fields its IOD reads (findings for a CAD
// SR, a title for a KOS, a window for a GSPS, …); an image gets neither.
import type { IodInfo, JsonSchema } from '../../types';
import type { Obj } from './specTree';

const DERIVED_KEYS = ['references', 'content'];

/** The registry entry of `iod` (a name, an alias or a SOP Class UID; case-insensitive). */
export function findIod(schema: JsonSchema, iod: string): IodInfo | undefined {
  const wanted = iod.trim().toLowerCase();
  return Object.values(schema['x-iods'] ?? {}).find((info) =>
    info.names.some((n) => n.toLowerCase() === wanted),
  );
}

/** The spec's schema as the form of a node whose instances are `info`: `references` and `content`
 * left out of every level unless it is a derived object (or the node sets them already, so that
 * they can be cleared), `content` limited to the fields the IOD reads, and `references` a list of
 * selectors (a foreign instance is typed as JSON in the spec). */
export function schemaForIod(schema: JsonSchema, info: IodInfo | undefined, node: Obj): JsonSchema {
  const defs: Record<string, JsonSchema> = { ...(schema.$defs ?? {}) };
  const derived = info?.derived ?? false;
  const keep = (key: string) => derived || node[key] !== undefined;
  for (const [name, def] of Object.entries(defs)) {
    if (!def.properties || !DERIVED_KEYS.some((k) => k in def.properties!)) continue;
    const properties = { ...def.properties };
    for (const key of DERIVED_KEYS) if (key in properties && !keep(key)) delete properties[key];
    const refs = node.references;
    const selectorsOnly = refs === undefined || (Array.isArray(refs) && refs.every((r) => typeof r === 'string'));
    if (properties.references && selectorsOnly) {
      properties.references = {
        description: properties.references.description,
        anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'null' }],
        examples: ['images', 'RCC', 'series[0]', 'studies[1].LMLO'],
      };
    }
    defs[name] = { ...def, properties };
  }
  if (info && defs.Content?.properties) {
    const fields = new Set(info.content_fields);
    const current = (node.content ?? {}) as Obj;
    defs.Content = {
      ...defs.Content,
      properties: Object.fromEntries(
        Object.entries(defs.Content.properties).filter(([k]) => fields.has(k) || current[k] !== undefined),
      ),
    };
  }
  return { ...schema, $defs: defs };
}
