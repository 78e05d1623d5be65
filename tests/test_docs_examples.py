"""Every TOML, YAML and JSON example in README.md and docs/*.md parses and validates as what it is.

A block's kind is given by an HTML comment on the line before it (blank lines allowed between),
``<!-- example: KIND -->``; without one, TOML is a target file and YAML/JSON a spec. Kinds:

- ``target``: a ``dicomfab.toml`` (every ``${VAR}`` gets a dummy value); every target usable,
  and each expectation's selectors found in its scenario's plan;
- ``spec``: a spec (or the predecessor's power-customize config), parsed and planned;
- ``scenario``: a scenario file of the library, validated and composed;
- ``sites``: a site-profile file;
- ``policy``: a target's policy and expectations in YAML (as ``embedded-policy.yaml``);
- ``params``: a ``--params`` file (a mapping);
- ``fragment``: deliberately incomplete (``...`` for values): it must still parse.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dicomfab.builder.plan import make_plan
from dicomfab.run.connect import load_targets
from dicomfab.run.expect import plan_issues, policy_issues, rule_issues
from dicomfab.scenarios import compose, get, load_profiles
from dicomfab.scenarios.model import Scenario
from dicomfab.scenarios.profiles import load_file
from dicomfab.studyspec.loading import parse_spec
from dicomfab.targets import config as targets_config

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LANGUAGES = {"toml": "toml", "yaml": "yaml", "yml": "yaml", "json": "json"}
KINDS = {"target", "spec", "scenario", "sites", "policy", "params", "fragment"}
_FENCE = re.compile(r"^\s*```\s*([A-Za-z]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*example:\s*([a-z-]+)\s*-->\s*$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str  # toml, yaml, json
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The TOML/YAML/JSON fenced blocks of one Markdown file, with their kind."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if _FENCE.match(lines[j])), len(lines))
        language = LANGUAGES.get(m[1].lower())
        if language is not None:
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            marker = _MARKER.match(before)
            kind = marker[1] if marker else ("target" if language == "toml" else "spec")
            found.append(Block(path, i + 1, language, kind, "\n".join(lines[i + 1 : end]) + "\n"))
        i = end + 1
    return found


ALL = [b for path in DOCS for b in blocks(path)]


def parse(block: Block) -> Any:
    if block.language == "toml":
        return tomllib.loads(block.text)
    if block.language == "json":
        return json.loads(block.text)
    return yaml.safe_load(block.text)


def dummy_environment(text: str) -> dict[str, str]:
    return {name: f"dummy-{name.lower()}" for name in _VARIABLE.findall(text)}


def check_target(block: Block, tmp_path: Path, environ: dict[str, str] | None = None) -> None:
    config = tmp_path / "dicomfab.toml"
    config.write_text(block.text, encoding="utf-8")
    targets = load_targets(config, environ or dummy_environment(block.text))
    assert not targets.broken, {name: targets.problem(name) for name in targets.broken}
    assert targets.targets, "no target in the example"
    for name, target in targets.targets.items():
        for scenario, rules in target.expect.items():
            plan = compose(get(scenario), profiles=load_profiles()).plan  # as a run does
            where = f"targets.{name}.expect.{scenario}"
            assert not plan_issues(rules, plan, where), plan_issues(rules, plan, where)


def check(block: Block, tmp_path: Path) -> None:
    data = parse(block)  # every block must parse, fragments too
    if block.kind == "fragment":
        return
    if block.kind == "target":
        check_target(block, tmp_path)
    elif block.kind == "spec":
        make_plan(parse_spec(data, source=str(block)))
    elif block.kind == "scenario":
        compose(Scenario.model_validate(data))
    elif block.kind == "sites":
        sites = tmp_path / "sites.yaml"
        sites.write_text(block.text, encoding="utf-8")
        assert load_file(sites)
    elif block.kind == "policy":
        issues = policy_issues(data.get("policy") or {}, "policy")
        issues += rule_issues(data.get("expect") or {}, "expect")
        assert not issues, issues
    elif block.kind == "params":
        assert isinstance(data, dict), "a parameter file is a mapping NAME: VALUE"


def test_the_docs_have_examples_of_each_language() -> None:
    assert {b.language for b in ALL} == {"toml", "yaml", "json"}
    assert len(ALL) >= 7, [str(b) for b in ALL]


@pytest.mark.parametrize("block", ALL, ids=str)
def test_example_parses_and_validates(block: Block, tmp_path: Path) -> None:
    assert block.kind in KINDS, f"{block}: unknown example kind {block.kind!r} ({sorted(KINDS)})"
    check(block, tmp_path)


@pytest.mark.parametrize(
    "path", sorted((REPO / "examples" / "targets").glob("*.toml")), ids=lambda p: p.name
)
def test_the_example_target_files_are_valid(path: Path, tmp_path: Path) -> None:
    """``examples/targets/*.toml``, with ``1`` for every variable (ports among them)."""
    text = path.read_text(encoding="utf-8")
    block = Block(path, 1, "toml", "target", text)
    check_target(block, tmp_path, {name: "1" for name in _VARIABLE.findall(text)})


def test_the_config_module_example_is_a_valid_target(tmp_path: Path) -> None:
    """The indented TOML in ``dicomfab.targets.config``'s docstring."""
    doc = targets_config.__doc__ or ""
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("[targets."))
    example: list[str] = []
    for line in lines[start:]:
        if line.strip() and not line.startswith("    "):
            break
        example.append(line.removeprefix("    "))
    text = "\n".join(example) + "\n"
    check_target(
        Block(REPO / "src/dicomfab/targets/config.py", start, "toml", "target", text), tmp_path
    )
