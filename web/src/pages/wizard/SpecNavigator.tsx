import type { Issue, Spec } from '../../types';
import { asList, asObj, describe, nodePath, NOUN, pathString, select, type Level, type Obj, type Sel } from './specTree';

interface Props {
  spec: Spec;
  sel: Sel;
  issues: Issue[];
  onSelect: (sel: Sel) => void;
  onAdd: (parent: Level) => void;
  onRemove: (parent: Level, index: number) => void;
}

interface Column {
  level: Level;
  parent: Level;
  title: string;
  items: Obj[];
  index: number;
}

const EMPTY: Partial<Record<Level, string>> = {
  patient: 'None: one synthetic patient by default.',
  instance: 'None: the series makes its instances from views / count.',
};
const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The spec's tree as columns (dataset, patients, studies, series, instances): pick a node to edit, add or remove one. */
export default function SpecNavigator({ spec, sel, issues, onSelect, onAdd, onRemove }: Props) {
  const patients = asList(spec.patients);
  const studies = asList(asObj(patients[sel.p]).studies);
  const series = asList(asObj(studies[sel.s]).series);
  const instances = asList(asObj(series[sel.r]).instances);
  const columns: Column[] = [
    { level: 'patient', parent: 'spec', title: 'Patients', items: patients, index: sel.p },
    { level: 'study', parent: 'patient', title: 'Studies', items: studies, index: sel.s },
    { level: 'series', parent: 'study', title: 'Series', items: series, index: sel.r },
    { level: 'instance', parent: 'series', title: 'Instances', items: instances, index: sel.i },
  ];
  const hasIssue = (prefix: string) =>
    issues.some((i) => i.path === prefix || i.path.startsWith(prefix + '.') || i.path.startsWith(prefix + '['));

  return (
    <div className="levels">
      <div className="level">
        <h3>Dataset</h3>
        <button
          type="button"
          className={`node${sel.level === 'spec' ? ' selected' : ''}`}
          aria-pressed={sel.level === 'spec'}
          onClick={() => onSelect({ ...sel, level: 'spec' })}
        >
          Edit dataset settings
        </button>
        <p className="muted small-text">{String(spec.name ?? 'power_customized_dataset')}</p>
      </div>
      {columns.map((col, c) => {
        const noun = NOUN[col.level];
        const above = columns[c - 1];
        return (
          <div className="level" key={col.level}>
            <h3>{col.title}</h3>
            {above && above.items.length === 0 ? (
              <p className="muted small-text">Add a {NOUN[above.level]} first.</p>
            ) : (
              <>
                <ol>
                  {col.items.map((item, k) => {
                    const onPath = col.index === k;
                    const editing = onPath && sel.level === col.level;
                    const bad = hasIssue(pathString(nodePath(select(sel, col.level, k))));
                    return (
                      <li key={k} className={`${onPath ? 'on-path' : ''}${editing ? ' selected' : ''}`}>
                        <button
                          type="button"
                          className="node"
                          aria-pressed={editing}
                          aria-label={`Edit ${noun} ${k + 1}`}
                          onClick={() => onSelect(select(sel, col.level, k))}
                        >
                          {capital(noun)} {k + 1}
                          {bad && <span className="issue-dot" aria-hidden="true"> ⚠</span>}
                        </button>
                        <span className="node-desc">{describe(col.level, item, k + 1)}</span>
                        <button
                          type="button"
                          className="small danger"
                          aria-label={`Remove ${noun} ${k + 1}`}
                          title={`Remove ${noun} ${k + 1}`}
                          onClick={() => onRemove(col.parent, k)}
                        >
                          ✕
                        </button>
                      </li>
                    );
                  })}
                </ol>
                {col.items.length === 0 && <p className="muted small-text">{EMPTY[col.level] ?? 'None: the default applies.'}</p>}
                <button type="button" className="small" onClick={() => onAdd(col.parent)}>
                  Add {noun}
                </button>
              </>
            )}
          </div>
        );
      })}
    </div>
  );
}
