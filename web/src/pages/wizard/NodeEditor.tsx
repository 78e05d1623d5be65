import { useMemo } from 'react';
import { DraftProblemsContext, type ReportProblems } from '../../components/draftProblems';
import SchemaForm, { resolveRef } from '../../components/SchemaForm';
import type { Issue, JsonSchema, Spec } from '../../types';
import { schemaForIod, findIod } from './iodFields';
import { asObj, CHILD_KEYS, effectiveIod, getIn, heading, LEVEL_CHILD, nodePath, pathString, setIn, type Level, type Obj, type Sel } from './specTree';

const DEFS: Record<Level, string> = { spec: '', patient: 'PatientSpec', study: 'StudySpec', series: 'SeriesSpec', instance: 'InstanceSpec' };

interface Props {
  schema: JsonSchema;
  spec: Spec;
  sel: Sel;
  issues: Issue[];
  onChange: (update: (prev: Spec) => Spec) => void;
  /** Problems the form sees and the spec cannot carry (duplicate tag keys). */
  onProblems?: ReportProblems;
}

/** The form of the selected node (its own fields first, then the settings every level shares); its children are edited in the navigator. */
export default function NodeEditor({ schema, spec, sel, issues, onChange, onProblems }: Props) {
  const settingsKeys = useMemo(
    () => Object.keys(resolveRef(schema, { $ref: '#/$defs/Settings' }).properties ?? {}),
    [schema],
  );
  const def: JsonSchema = sel.level === 'spec' ? schema : { $ref: `#/$defs/${DEFS[sel.level]}` };
  const ownKeys = Object.keys(resolveRef(schema, def).properties ?? {}).filter((k) => !settingsKeys.includes(k));
  const path = nodePath(sel);
  const current = sel.level === 'spec' ? spec : asObj(getIn(spec, path));
  const currentPath = pathString(path);
  const iod = effectiveIod(spec, sel);
  const formRoot = useMemo(
    () => schemaForIod(schema, findIod(schema, iod), current),
    [schema, iod, current],
  );

  const edit = (v: Obj) => {
    if (sel.level === 'spec') {
      // keep the patients (not edited here)
      onChange((prev) => ({ ...v, ...(prev.patients !== undefined ? { patients: prev.patients } : {}) }));
    } else {
      const child = LEVEL_CHILD[sel.level];
      const keep = child && current[child.key] !== undefined ? { [child.key]: current[child.key] } : {};
      onChange((prev) => setIn(prev, path, { ...v, ...keep }) as Spec);
    }
  };

  return (
    <section className="editor" aria-labelledby="editor-title">
      <h3 id="editor-title">{heading(sel)}</h3>
      <p className="hint" data-testid="node-iod">
        Builds <code>{iod}</code>
        {findIod(schema, iod)?.derived ? ': a derived object, with the references and content its IOD reads' : ''}
      </p>
      <DraftProblemsContext.Provider value={onProblems ?? null}>
      <SchemaForm
        key={`${sel.level}-${currentPath}`}
        root={formRoot}
        schema={def}
        value={current}
        path={currentPath}
        issues={issues}
        exclude={CHILD_KEYS}
        order={ownKeys}
        onChange={edit}
      />
      </DraftProblemsContext.Provider>
    </section>
  );
}
