"""The datasets of an output folder, and a folder as a tree, for the result browser."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from dicomfab.output.manifest import Manifest
from dicomfab.output.summary import summarise
from dicomfab.web.labels import labels

log = logging.getLogger(__name__)

MAX_NODES = 5000  # a tree stops growing here (``truncated`` is set on the folder cut short)
MAX_DEPTH = 8


def datasets(output: Path) -> list[dict[str, Any]]:
    """Every ``*/manifest.json`` of ``output``, summarised as ``dicomfab summary`` does; a
    folder whose manifest cannot be read, or is a link leading out of ``output``, is left out."""
    rows = []
    for path in sorted(output.glob("*/manifest.json")) if output.is_dir() else []:
        if not path.resolve().is_relative_to(output.resolve()):
            continue  # a link to a dataset elsewhere: outside the allowed folders
        try:
            manifest = Manifest.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("%s: not a dicomfab manifest (%s)", path, exc)
            continue
        s = summarise(manifest)
        rows.append(
            {
                "name": path.parent.name,
                "path": str(path.parent),
                "scenario": manifest.scenario,
                "patients": s.patients,
                "studies": s.studies,
                "instances": s.instances,
                "files": s.files,
                "bytes": s.bytes,
            }
        )
    return rows


def tree(path: Path) -> dict[str, Any]:
    """``{name, path, kind, size, children}``; folders first, then files, each by name.
    Symbolic links to folders are listed, not followed. In a dataset folder (one with a
    readable manifest.json) a study folder gets a ``label`` (patient, role, date, description)
    and each file the manifest lists its ``image`` (see :func:`dicomfab.web.labels.labels`)."""
    budget = [MAX_NODES]
    folders, images = labels(path)
    return _node(path, 0, budget, Annotations(path, folders, images))


class Annotations:
    """What the manifest says about the files and folders under ``root``."""

    def __init__(self, root: Path, folders: dict[str, str], images: dict[str, dict[str, Any]]):
        self.root = root
        self.folders = folders
        self.images = images

    def add(self, path: Path, node: dict[str, Any]) -> None:
        if not (self.folders or self.images):
            return
        try:
            rel = path.relative_to(self.root).as_posix()
        except ValueError:
            return
        if rel in self.folders:
            node["label"] = self.folders[rel]
        if rel in self.images:
            node["image"] = self.images[rel]


def _node(path: Path, depth: int, budget: list[int], notes: Annotations) -> dict[str, Any]:
    budget[0] -= 1
    is_dir = path.is_dir() and not path.is_symlink()
    node: dict[str, Any] = {
        "name": path.name,
        "path": str(path),
        "kind": "dir" if is_dir else "file",
        "size": 0,
        "children": [],
    }
    notes.add(path, node)
    if not is_dir:
        with contextlib.suppress(OSError):  # a dangling link, say
            node["size"] = path.stat().st_size
        return node
    try:
        entries = sorted(path.iterdir(), key=lambda p: (not p.is_dir(), p.name))
    except OSError:
        return node
    for entry in entries:
        if budget[0] <= 0 or depth >= MAX_DEPTH:
            node["truncated"] = True
            break
        child = _node(entry, depth + 1, budget, notes)
        node["children"].append(child)
        node["size"] += child["size"]
    return node
