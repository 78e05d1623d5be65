import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, get, post } from '../api';
import { InlineError } from '../components/Alerts';
import GeneratePanel, { type Generated } from '../components/GeneratePanel';
import { useSticky } from '../state';
import type { Info, Issue, JobAnswer, JsonSchema } from '../types';
import NodeEditor from './wizard/NodeEditor';
import GeneratedResult from './wizard/GeneratedResult';
import GuidedWizard from './wizard/guided/GuidedWizard';
import Notes from './wizard/Notes';
import RawSpec from './wizard/RawSpec';
import { ConfirmReplace, UndoBar } from './wizard/ReplaceDraft';
import SpecActions from './wizard/SpecActions';
import SpecNavigator from './wizard/SpecNavigator';
import { addChild, clampSelection, FIRST_STUDY, NEW_SPEC, normaliseIssue, removeChild, TOP } from './wizard/specTree';
import { useDraft } from './wizard/useDraft';
import { useSpecValidation } from './wizard/useSpecValidation';
import ValidationStatus from './wizard/ValidationStatus';

/** Paths of the spec's own fields: a generate error naming one is a problem of the spec. */
const SPEC_FIELD = /^(patients|defaults|name|seed|uid_root|reference_date)/;

/** The spec editor: file actions, validation, the tree of nodes, the selected node's form, generating, the raw text. */
export default function Wizard({ info }: { info: Info | null }) {
  const [schema, setSchema] = useSticky<JsonSchema | null>('schema', null);
  const [schemaError, setSchemaError] = useState<unknown>(null);
  const draft = useDraft();
  const { spec, setSpec, notes, setNotes, sel, setSel } = draft;
  const [result, setResult] = useSticky<Generated | null>('wizard.result', null);
  // a generate error concerns the spec it was given: shown only while that spec is the draft,
  // even when the answer arrives after an edit
  const [genFailure, setGenFailure] = useState<{ error: unknown; spec: typeof spec } | null>(null);
  const generating = useRef(spec);
  const genError = genFailure && genFailure.spec === spec ? genFailure.error : null;
  const setGenError = useCallback(
    (error: unknown) => setGenFailure(error == null ? null : { error, spec: generating.current }),
    [],
  );
  const { validation, validating } = useSpecValidation(spec);
  const [mode, setMode] = useSticky<'guided' | 'tree'>('wizard.mode', 'guided');
  const [focusResult, setFocusResult] = useState(false); // right after generating
  const focused = useCallback(() => setFocusResult(false), []);
  // what the tag tables see and the spec cannot carry (duplicate keys), by table
  const [local, setLocal] = useState<Record<string, Issue[]>>({});
  const reportLocal = useCallback((owner: string, list: Issue[]) => {
    setLocal((prev) => {
      if (!list.length && !(owner in prev)) return prev;
      const next = { ...prev };
      if (list.length) next[owner] = list;
      else delete next[owner];
      return next;
    });
  }, []);
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
  const allIssues = [...issues, ...Object.values(local).flat()];

  const start = (output: string, overwrite: boolean) => {
    setResult(null);
    generating.current = spec;
    return post<JobAnswer>('/api/generate-spec', { spec, output, overwrite });
  };

  return (
    <section aria-labelledby="wizard-title" className="wizard">
      <SpecActions
        spec={spec}
        onLoad={(loaded, loadNotes) => draft.replace('the imported file', { spec: loaded, notes: loadNotes }, TOP)}
        onNew={() => draft.replace('a new spec', { spec: NEW_SPEC, notes: [] }, FIRST_STUDY)}
        onNotes={setNotes}
      />
      {draft.pending && <ConfirmReplace what={draft.pending.what} onReplace={draft.confirm} onKeep={draft.cancel} />}
      {draft.undo && <UndoBar what={draft.undo.what} onUndo={draft.restore} onDismiss={draft.dismissUndo} />}
      <Notes notes={notes} onDismiss={() => setNotes([])} />
      <ValidationStatus validation={validation} validating={validating} issues={allIssues} onSelect={setSel} />
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
        issues={allIssues}
        onSelect={setSel}
        onAdd={(parent) => {
          const [next, selected] = addChild(spec, sel, parent);
          setSpec(next);
          setSel(selected);
        }}
        onRemove={(parent, index) => setSpec(removeChild(spec, sel, parent, index))}
      />
      <NodeEditor schema={schema} spec={spec} sel={sel} issues={issues} onChange={setSpec} onProblems={reportLocal} />

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
        onGenerated={(generated) => {
          setResult(generated);
          setFocusResult(true);
        }}
      />
      {result && <GeneratedResult result={result} focus={focusResult} onFocused={focused} />}
      </>
      )}

      <RawSpec spec={spec} onApply={(next, nextNotes) => draft.replace('the raw text', { spec: next, notes: nextNotes }, TOP, false)} />
    </section>
  );
}
