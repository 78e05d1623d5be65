"""Shell completion through click's protocol, as bash asks for it (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def complete(words: str) -> list[str]:
    """What bash completion offers for the last word of ``words``."""
    env = {
        **os.environ,
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
        "_DICOMFAB_COMPLETE": "bash_complete",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "dicomfab"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [line.split(",", 1)[1] for line in proc.stdout.splitlines() if "," in line]


@pytest.mark.parametrize(
    ("words", "offered", "not_offered"),
    [
        ("dicomfab ge", "generate", "run"),
        ("dicomfab u", "ui", "generate"),  # the web UI's command, composed in dicomfab.console
        ("dicomfab ui --no", "--no-browser", "--port"),
        ("dicomfab run -s pr_bi", "pr_bits_mismatch", "cu_bits_mismatch"),
        (
            "dicomfab run -s cu_bits_mismatch,pr_pri",
            "cu_bits_mismatch,pr_private_tag",
            "pr_private_tag",
        ),
        ("dicomfab generate -s al", "all", "pr_bits_mismatch"),
        ("dicomfab describe masc_ext", "masc_ext_prior", "pr_bits_mismatch"),
        ("dicomfab run --tag pri", "prior", "current"),
    ],
)
def test_completion_offers_what_matches(words: str, offered: str, not_offered: str) -> None:
    got = complete(words)
    assert offered in got and not_offered not in got, got


def test_the_bash_script_is_printed() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dicomfab"],
        env={**os.environ, "_DICOMFAB_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        proc.returncode == 0
        and "complete -o nosort -F _dicomfab_completion dicomfab" in proc.stdout
    )
