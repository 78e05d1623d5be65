import { useEffect, useState } from 'react';
import { formatBytes, get } from '../api';
import { InlineError } from '../components/Alerts';
import FileTree, { dicomFiles } from '../components/FileTree';
import HeaderView from '../components/HeaderView';
import { ThumbnailGrid } from '../components/Thumbnails';
import { useSticky } from '../state';
import type { Dataset, Info, TreeNode } from '../types';

export default function Output({ info }: { info: Info | null }) {
  const [output, setOutput] = useSticky('output.folder', '');
  const [opened, setOpened] = useSticky<string | null>('output.opened', null);
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [listError, setListError] = useState<unknown>(null);
  const [dataset, setDataset] = useSticky<Dataset | null>('output.dataset', null);
  const [tree, setTree] = useState<TreeNode | null>(null);
  const [treeError, setTreeError] = useState<unknown>(null);
  const [file, setFile] = useSticky<TreeNode | null>('output.file', null);

  useEffect(() => {
    if (info && !output) setOutput(info.output);
  }, [info, output, setOutput]);

  useEffect(() => {
    if (!opened) return;
    const ctrl = new AbortController();
    setDatasets(null);
    setListError(null);
    get<Dataset[]>('/api/datasets', { output: opened }, ctrl.signal).then(setDatasets, (err) => {
      if (!(err instanceof DOMException)) setListError(err);
    });
    return () => ctrl.abort();
  }, [opened]);

  useEffect(() => {
    if (!dataset) return;
    const ctrl = new AbortController();
    setTree(null);
    setTreeError(null);
    get<TreeNode>('/api/datasets/tree', { path: dataset.path }, ctrl.signal).then(setTree, (err) => {
      if (!(err instanceof DOMException)) setTreeError(err);
    });
    return () => ctrl.abort();
  }, [dataset]);

  const files = dicomFiles(tree);
  return (
    <section aria-labelledby="output-title">
      <h2 id="output-title">Output</h2>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setDataset(null);
          setFile(null);
          setOpened(output.trim());
          if (opened === output.trim()) {
            // re-open: list again
            setOpened(null);
            window.setTimeout(() => setOpened(output.trim()), 0);
          }
        }}
      >
        <label>
          Output folder{' '}
          <input type="text" className="wide" value={output} onChange={(e) => setOutput(e.target.value)} />
        </label>
        <button type="submit" disabled={!output.trim()}>
          Open
        </button>
      </form>
      <InlineError error={listError} />
      {opened && !datasets && !listError && <p className="muted">Loading…</p>}
      {datasets && (
        <>
          <h3>Datasets in {opened}</h3>
          {datasets.length === 0 ? (
            <p className="muted">No datasets in this folder.</p>
          ) : (
            <table className="data" data-testid="datasets">
              <thead>
                <tr>
                  <th scope="col">Dataset</th>
                  <th scope="col">Scenario</th>
                  <th scope="col">Patients</th>
                  <th scope="col">Studies</th>
                  <th scope="col">Instances</th>
                  <th scope="col">Size</th>
                </tr>
              </thead>
              <tbody>
                {datasets.map((d) => (
                  <tr key={d.path} className={dataset?.path === d.path ? 'selected' : undefined}>
                    <td>
                      <button
                        type="button"
                        className="link-button"
                        aria-pressed={dataset?.path === d.path}
                        onClick={() => {
                          setDataset(d);
                          setFile(null);
                        }}
                      >
                        {d.name}
                      </button>
                    </td>
                    <td>{d.scenario ?? ''}</td>
                    <td>{d.patients}</td>
                    <td>{d.studies}</td>
                    <td>{d.instances}</td>
                    <td>{formatBytes(d.bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      {dataset && (
        <section className="dataset-view" aria-labelledby="dataset-title">
          <h3 id="dataset-title">{dataset.name}</h3>
          <InlineError error={treeError} />
          {!tree && !treeError && <p className="muted">Loading files…</p>}
          {tree && (
            <div className="dataset-layout">
              <nav className="tree-pane" aria-label="Files">
                <FileTree tree={tree} selected={file?.path} onSelect={setFile} />
              </nav>
              <div className="detail-pane">
                {file ? (
                  <HeaderView key={file.path} path={file.path} name={file.name} image={file.image} />
                ) : (
                  <p className="muted">Pick a .dcm file to see its header.</p>
                )}
              </div>
            </div>
          )}
          {tree && (
            <section aria-labelledby="grid-title">
              <h4 id="grid-title">Images ({files.length})</h4>
              <ThumbnailGrid files={files} onSelect={setFile} selected={file?.path} limit={96} />
            </section>
          )}
        </section>
      )}
    </section>
  );
}
