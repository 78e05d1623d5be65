"""Where dicomfab may write: one path component at a time, and never outside its root.

Every file and folder name that comes from a spec, a manifest or a scenario goes through
:func:`safe_component` (one name, no folder, nothing a file system treats specially) and every
path the writer opens goes through :func:`confined` (joined, resolved with symlinks followed, and
refused unless it is still inside the root). A symlink planted inside the output that points
elsewhere therefore makes the write fail instead of following it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dicomfab.errors import OutputError
from dicomfab.studyspec.names import component_problem


def is_safe_component(text: str) -> bool:
    """True if ``text`` is one safe file or folder name (see :func:`component_problem`)."""
    return component_problem(text) is None


def safe_component(text: str) -> str:
    """``text`` itself if it is one safe name; raise ``OutputError`` otherwise."""
    problem = component_problem(text)
    if problem is not None:
        raise OutputError(f"{text!r} cannot be a file or folder name: it {problem}")
    return text


def confined(root: Path, *parts: str) -> Path:
    """``root / parts…``, resolved (symlinks followed), if it lies inside ``root.resolve()``.

    Raises ``OutputError`` for an absolute part, a ``..`` that climbs out, or a symlink on the way
    that leads outside ``root``. The returned path is the resolved one: write to it, not to the
    joined one."""
    base = root.resolve()
    for part in parts:
        if os.path.isabs(part) or os.path.splitdrive(part)[0]:
            raise OutputError(f"{part!r} is an absolute path: refusing to write outside {base}")
    final = _plainly_below(base, parts)
    if final is not None:
        return final
    final = base.joinpath(*parts).resolve()
    if final != base and not final.is_relative_to(base):
        shown = "/".join(parts)
        raise OutputError(f"{shown!r} leads outside {base} (to {final}): refusing to write there")
    return final


def _plainly_below(base: Path, parts: tuple[str, ...]) -> Path | None:
    """``base / parts…`` resolved, if no ``..`` and no symlink lies on the way below the resolved
    ``base`` (so it is inside); None otherwise, or on another operating system than POSIX.

    One ``lstat`` per name, up to the first that does not exist (what follows is taken as
    written, as ``Path.resolve`` takes it). Each file the library writes passes here: resolving
    its whole path again, every folder above the output too, was most of the cost of its path.
    """
    names = [name for part in parts for name in part.split("/") if name and name != "."]
    if os.name != "posix" or ".." in names:
        return None
    path = str(base)
    for at, name in enumerate(names):
        path = os.path.join(path, name)
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return Path(path, *names[at + 1 :])
        except OSError:  # not allowed to look (EACCES, ELOOP, …): as resolve would decide
            return None
        if stat.S_ISLNK(mode):
            return None
    return Path(path)
