import { useEffect, useRef } from 'react';
import Thumbnails from '../../components/Thumbnails';
import type { GeneratedDataset } from '../../types';

/** What a wizard generate wrote: its datasets and their thumbnails. Right after generating
 * (`focus`) the heading takes the focus, so screen readers announce the result. */
export default function GeneratedResult({
  result,
  focus,
  onFocused,
  testId,
}: {
  result: { output: string; datasets: GeneratedDataset[] };
  focus: boolean;
  onFocused: () => void;
  testId?: string;
}) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focus && heading.current) {
      heading.current.focus();
      onFocused();
    }
  }, [focus, onFocused]);
  return (
    <div className="wizard-result" data-testid={testId}>
      <h4 tabIndex={-1} ref={heading}>
        Generated
      </h4>
      <ul>
        {result.datasets.map((d) => (
          <li key={d.path}>
            {d.name}: {d.files} files in <code>{d.path}</code>
          </li>
        ))}
      </ul>
      <Thumbnails output={result.output} datasets={result.datasets} />
    </div>
  );
}
