"""What one ``dicomfab ui`` server needs to know, fixed at start-up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

STATIC_DIR = Path(__file__).with_name("static")


@dataclass(frozen=True)
class UISettings:
    """``roots[0]`` holds the default output folder (``out``) and the run folders (``runs``).

    ``allowed_hosts`` are the ``Host`` header values accepted (``127.0.0.1:PORT``,
    ``localhost:PORT``); tests add ``testserver``. ``workers`` is passed to generation
    (``None``: the library's default)."""

    token: str
    roots: Sequence[Path]
    port: int = 0
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    config: Path | None = None
    static_dir: Path = STATIC_DIR
    workers: int | None = None

    def __post_init__(self) -> None:
        if not self.roots:
            raise ValueError("at least one root folder is needed")
        object.__setattr__(self, "roots", tuple(Path(r).resolve() for r in self.roots))

    @property
    def output_dir(self) -> Path:
        return self.roots[0] / "out"

    @property
    def runs_dir(self) -> Path:
        return self.roots[0] / "runs"


def local_hosts(port: int) -> frozenset[str]:
    """The ``Host`` values a browser sends for this server (anything else: DNS rebinding)."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})
