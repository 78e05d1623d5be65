import { useEffect, useState } from 'react';
import { ApiError, get, post } from '../api';
import { InlineError } from '../components/Alerts';
import GeneratePanel, { type Generated } from '../components/GeneratePanel';
import Thumbnails from '../components/Thumbnails';
import { useSticky } from '../state';
import type { Info, JobAnswer, JsonSchema, Spec } from '../types';
import NodeEditor from './wizard/NodeEditor';
import GuidedWizard from './wizard/guided/GuidedWizard';
import Notes from './wizard/Notes';
import SpecActions from './wizard/SpecActions';
import SpecNavigator from './wizard/SpecNavigator';
import { addChild, clampSelection, FIRST_STUDY, NEW_SPEC, normaliseIssue, removeChild, TOP, type Sel } from './wizard/specTree';
import { useSpecValidation } from './wizard/useSpecValidation';
import ValidationStatus from './wizard/ValidationStatus';

/** Paths of the spec's own fields: a generate error naming one is a problem of the spec. */
const SPEC_FIELD = /^(patients|defaults|name|seed|uid_root|reference_date)/;

/** The spec editor: file actions, validation, the tree of nodes, the selected node's form, generating, the raw JSON. */
export default function Wizard({ info }: { info: Info | null }) {
  const [schema, setSchema] = useSticky<JsonSchema | null>('schema', null);
  const [schemaError, setSchemaError] = useState<unknown>(null);
  const [spec, setSpec] = useSticky<Spec>('wizard.spec', NEW_SPEC);
  const [notes, setNotes] = useSticky<string[]>('wizard.notes', []);
  const [sel, setSel] = useSticky<Sel>('wizard.sel', FIRST_STUDY);
  const [result, setResult] = useSticky<Generated | null>('wizard.result', null);
  const [genError, setGenError] = useState<unknown>(null);
  const { validation, validating } = useSpecValidation(spec);
  const [mode, setMode] = useSticky<'guided' | 'tree'>('wizard.mode', 'guided');

  useEffect(() => {
    if (!schema) get<JsonSchema>('/api/spec/schema').then(setSchema, setSchemaError);
  }, [schema, setSchema]);

  // Keep the selection inside the spec.
  useEffect(() => {
    const fixed = clampSelection(spec, sel);
    if (JSON.stringify(fixed) !== JSON.stringify(sel)) setSel(fixed);
  }, [spec, sel, setSel]);

  if (schemaError) return <InlineError error={schemaError} />;
  if (!schema) return <p className="muted">Loading the spec schema…</p>;

  const genIssues = genError instanceof ApiError ? genError.issues.map(normaliseIssue) : [];
  const issues = [...(validation?.issues ?? []), ...genIssues.filter((i) => SPEC_FIELD.test(i.path))];

  const start = (output: string, overwrite: boolean) => {
    setResult(null);
    return post<JobAnswer>('/api/generate-spec', { spec, output, overwrite });
  };

  return (
    <section aria-labelledby="wizard-title" className="wizard">
      <SpecActions
        spec={spec}
        onLoad={(loaded, loadNotes) => {
          setSpec(loaded);
          setNotes(loadNotes);
          setSel(TOP);
        }}
        onNew={() => {
          setSpec(NEW_SPEC);
          setNotes([]);
          setSel(FIRST_STUDY);
        }}
        onNotes={setNotes}
      />
      <Notes notes={notes} onDismiss={() => setNotes([])} />
      <ValidationStatus validation={validation} validating={validating} issues={issues} onSelect={setSel} />
      <div className="mode-switch" role="group" aria-label="Wizard mode">
        {(['guided', 'tree'] as const).map((m) => (
          <button key={m} type="button" aria-pressed={mode === m} onClick={() => setMode(m)}>
            {m === 'guided' ? 'Guided' : 'Tree editor'}
          </button>
        ))}
      </div>
      {mode === 'guided' && <GuidedWizard spec={spec} onChange={setSpec} info={info} />}
      {mode === 'tree' && (
      <>
      <SpecNavigator
        spec={spec}
        sel={sel}
        issues={issues}
        onSelect={setSel}
        onAdd={(parent) => {
          const [next, selected] = addChild(spec, sel, parent);
          setSpec(next);
          setSel(selected);
        }}
        onRemove={(parent, index) => setSpec(removeChild(spec, sel, parent, index))}
      />
      <NodeEditor schema={schema} spec={spec} sel={sel} issues={issues} onChange={setSpec} />

      <GeneratePanel
        store="wizard"
        idPrefix="wiz"
        title="Generate this spec"
        info={info}
        label="Generate"
        overwriteLabel="Overwrite existing dataset"
        start={start}
        error={genError}
        setError={setGenError}
        onGenerated={setResult}
      />
      {result && (
        <div className="wizard-result">
          <h4>Generated</h4>
          <ul>
            {result.datasets.map((d) => (
              <li key={d.path}>
                {d.name}: {d.files} files in <code>{d.path}</code>
              </li>
            ))}
          </ul>
          <Thumbnails output={result.output} datasets={result.datasets} />
        </div>
      )}
      </>
      )}

      <section aria-labelledby="raw-title">
        <h3 id="raw-title">Raw JSON</h3>
        <pre className="raw" data-testid="spec-json" aria-label="Spec as JSON" tabIndex={0}>
          {JSON.stringify(spec, null, 2)}
        </pre>
      </section>
    </section>
  );
}
