import { useEffect, useRef } from 'react';
import { ErrorWithIssues } from '../../../components/Issues';
import { useSticky } from '../../../state';
import type { Info, Spec } from '../../../types';
import CurrentStep from './CurrentStep';
import ExternalStep from './ExternalStep';
import { ensureCurrent } from './guidedSpec';
import PriorsStep from './PriorsStep';
import ReviewStep from './ReviewStep';
import TagsStep from './TagsStep';
import { usePreview } from './usePreview';

const STEPS = ['Current study', 'Its tags', 'Internal priors', 'External priors', 'Review'] as const;

interface Props {
  spec: Spec;
  onChange: (spec: Spec) => void;
  info: Info | null;
}

/**
 * The guided flow the predecessor's users knew: current study → its tags → internal priors →
 * external priors → review and generate, over the same spec the tree editor edits.
 */
export default function GuidedWizard({ spec, onChange, info }: Props) {
  const [step, setStep] = useSticky('guided.step', 0);
  const { preview, error, loading } = usePreview(spec);
  const heading = useRef<HTMLHeadingElement>(null);
  const moved = useRef(false);

  // The flow starts from a current study: add one to a spec that has none.
  useEffect(() => {
    const [next] = ensureCurrent(spec);
    if (next !== spec) onChange(next);
  }, [spec, onChange]);

  useEffect(() => {
    if (moved.current) heading.current?.focus();
    moved.current = false;
  }, [step]);

  const go = (to: number) => {
    moved.current = true;
    setStep(Math.max(0, Math.min(STEPS.length - 1, to)));
  };

  const props = { spec, preview, onChange };
  const body = [
    <CurrentStep key="current" {...props} />,
    <TagsStep key="tags" {...props} />,
    <PriorsStep key="priors" {...props} />,
    <ExternalStep key="external" {...props} />,
    <ReviewStep key="review" {...props} info={info} ready={!!preview && !error && !loading} />,
  ][step];

  return (
    <div className="guided">
      <nav aria-label="Guided steps">
        <ol className="stepper">
          {STEPS.map((title, i) => (
            <li key={title} className={i === step ? 'current' : i < step ? 'done' : undefined}>
              <button type="button" aria-current={i === step ? 'step' : undefined} onClick={() => go(i)}>
                <span className="step-number">{i + 1}</span> {title}
              </button>
            </li>
          ))}
        </ol>
      </nav>
      <section className="guided-step" aria-labelledby="guided-step-title">
        <h3 id="guided-step-title" ref={heading} tabIndex={-1}>
          {step + 1}. {STEPS[step]}
        </h3>
        {error ? <ErrorWithIssues error={error} /> : null}
        {body}
      </section>
      <div className="toolbar guided-nav">
        <button type="button" disabled={step === 0} onClick={() => go(step - 1)}>
          Back
        </button>
        <button type="button" className="primary" disabled={step === STEPS.length - 1} onClick={() => go(step + 1)}>
          Next
        </button>
        <span className="muted" aria-live="polite">
          {loading ? 'Updating the preview…' : ''}
        </span>
      </div>
    </div>
  );
}
