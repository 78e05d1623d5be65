import { formatBytes } from '../api';
import type { TreeNode } from '../types';
import { imageCaption } from './imageLabels';

export function isDicom(node: TreeNode): boolean {
  return node.kind === 'file' && /\.dcm$/i.test(node.name);
}

/** Every .dcm file under a tree node, in tree order. */
export function dicomFiles(node: TreeNode | null | undefined): TreeNode[] {
  if (!node) return [];
  if (node.kind === 'file') return isDicom(node) ? [node] : [];
  return (node.children || []).flatMap(dicomFiles);
}

interface Props {
  tree: TreeNode;
  selected?: string | null;
  onSelect: (node: TreeNode) => void;
}

function Node({ node, selected, onSelect, depth }: Props & { node: TreeNode; depth: number }) {
  if (node.kind === 'dir') {
    return (
      <li>
        <details open={depth < 3}>
          <summary title={node.path}>
            {node.label ? (
              <>
                <span className="dir-label">{node.label}</span> <span className="dir-name muted">{node.name}/</span>
              </>
            ) : (
              <span className="dir-name">{node.name}/</span>
            )}
          </summary>
          {node.children && node.children.length > 0 && (
            <ul>
              {node.children.map((child) => (
                <Node key={child.path} node={child} tree={child} selected={selected} onSelect={onSelect} depth={depth + 1} />
              ))}
            </ul>
          )}
        </details>
      </li>
    );
  }
  return (
    <li>
      {isDicom(node) ? (
        <button
          type="button"
          className={`link-button file${selected === node.path ? ' selected' : ''}`}
          aria-pressed={selected === node.path}
          onClick={() => onSelect(node)}
          title={node.path}
        >
          {node.image ? (
            <>
              <span className="tree-file-label">{imageCaption(node.image)}</span> <span className="muted">{node.name}</span>
            </>
          ) : (
            node.name
          )}
        </button>
      ) : (
        <span className="file plain">{node.name}</span>
      )}{' '}
      <span className="muted">{formatBytes(node.size)}</span>
    </li>
  );
}

/**
 * A dataset's folders and files; .dcm files are buttons that select them. Study folders and
 * files show what the manifest says (patient, role, date, description; view), then the UID.
 */
export default function FileTree({ tree, selected, onSelect }: Props) {
  return (
    <ul className="tree" aria-label={`Files of ${tree.name}`}>
      <Node node={tree} tree={tree} selected={selected} onSelect={onSelect} depth={0} />
    </ul>
  );
}
