"""Fuzzing every document dicomfab reads, through the real command line (in this process).

Random and mutated specs, old power-customize configs, ``--params`` files, ``--sites`` files and
``dicomfab.toml`` targets files go through ``generate``, ``validate`` and ``targets``. Whatever
the document, the command ends with exit 0 or 2, prints no traceback, and writes nothing outside
its temporary root: a sentinel folder beside the root must stay as it was, and the folder that
holds both must hold nothing else. Hostile values (``..``, absolute paths into the sentinel,
long strings, deep nesting, aliases) are mixed into the mutations on purpose.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dicomfab.cli import main

# warnings as a user sees them, here too: a warning turned into an error between two draws
# makes Hypothesis see inconsistent data generation (FlakyStrategyDefinition)
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("default")]

REPO = Path(__file__).resolve().parents[1]
LEGACY_DATA = REPO / "tests" / "data" / "legacy"  # the predecessor's sample, its wizard's shape

# The same examples on every run (CI stays stable); DICOMFAB_FUZZ_EXAMPLES=1000 with
# DICOMFAB_FUZZ_RANDOM=1 explores further.
FUZZ = settings(
    max_examples=int(os.environ.get("DICOMFAB_FUZZ_EXAMPLES", "60")),
    derandomize=os.environ.get("DICOMFAB_FUZZ_RANDOM") != "1",
    deadline=None,
    database=None,  # nothing written to .hypothesis/ (and nothing outside the temporary roots)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ── the sandbox: a root to work in, a sentinel beside it ─────────────────────────────────────


@dataclass
class Sandbox:
    outer: Path
    root: Path
    sentinel: Path

    def snapshot(self) -> dict[str, str]:
        """Every path under ``outer`` outside ``root``, with a digest of each file."""
        found: dict[str, str] = {}
        for path in sorted(self.outer.rglob("*")):
            if path == self.root or self.root in path.parents:
                continue
            rel = str(path.relative_to(self.outer))
            if path.is_symlink():
                found[rel] = "symlink -> " + os.readlink(path)
            elif path.is_file():
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[rel] = "folder"
        return found

    def run(self, *args: str | Path) -> tuple[int, str]:
        """``dicomfab ARGS`` in ``root``: (exit code, stdout + stderr)."""
        out, err = io.StringIO(), io.StringIO()
        before = Path.cwd()
        os.chdir(self.root)
        try:
            # warnings as a user sees them (pytest's filterwarnings=error would turn pydicom's
            # "value length exceeds" UserWarning for a written value into an exception)
            with (
                warnings.catch_warnings(),
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
            ):
                warnings.simplefilter("default")
                try:
                    main([str(a) for a in args])
                except SystemExit as exc:
                    code = exc.code
                else:  # main always exits
                    code = "returned"
        finally:
            os.chdir(before)
        return (code if isinstance(code, int) else -1), out.getvalue() + err.getvalue()

    def check(self, *args: str | Path) -> int:
        """Run the command and assert the fuzz suite's three promises."""
        before = self.snapshot()
        code, output = self.run(*args)
        assert code in (0, 2), f"exit {code} for {args}:\n{output[-3000:]}"
        assert "Traceback" not in output, output[-3000:]
        if code == 2:  # one short message per problem: no value is echoed whole
            assert len(output) < 50_000, output[:3000]
        assert self.snapshot() == before, f"{args} wrote outside {self.root}:\n{output[-2000:]}"
        assert sorted(p.name for p in self.outer.iterdir()) == ["root", "sentinel"]
        out = self.root / "out"
        if out.exists():
            for path in out.rglob("*"):
                assert path.resolve().is_relative_to(self.root.resolve()), path
        return code


@contextlib.contextmanager
def sandbox() -> Iterator[Sandbox]:
    outer = Path(tempfile.mkdtemp(prefix="dicomfab-fuzz-"))
    try:
        root, sentinel = outer / "root", outer / "sentinel"
        root.mkdir()
        (sentinel / "keep").mkdir(parents=True)
        (sentinel / "keep" / "data.txt").write_text("the user's data\n")
        (sentinel / "x.dcm").write_bytes(b"not to be replaced")
        yield Sandbox(outer, root, sentinel)
    finally:
        shutil.rmtree(outer, ignore_errors=True)


# ── values: random, and hostile on purpose ──────────────────────────────────────────────────

SENTINEL_MARK = "@SENTINEL@"  # replaced by the sandbox's absolute sentinel path

HOSTILE = [
    "",
    ".",
    "..",
    "../..",
    "../sentinel",
    "../../sentinel/x.dcm",
    "../../../sentinel/x.dcm",
    "../../../../sentinel/x.dcm",
    "../../../../../sentinel/x.dcm",
    "../../../../../../sentinel/x.dcm",
    f"{SENTINEL_MARK}/x.dcm",
    SENTINEL_MARK,
    "a/b",
    "a\\b",
    "nul\x00byte",
    "CON",
    "x" * 300,
    "1.2.840.10008.1.2",
    "1.2.03.4",
    "1..2",
    "2.25." + "9" * 80,
    "${patient.name}",
    "${nope}",
    "-2y",
    "2024-13-45",
    "[[[[",
    "*a",
    "&a",
    "{{",
    "Doe^Jane",
    "RCC",
    "jpeg2000",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(HOSTILE),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=10), st.sampled_from(HOSTILE)), inner, max_size=4
        ),
    ),
    max_leaves=12,
)


def shared_bomb(levels: int = 9) -> list[Any]:
    """Nested lists that share their items: ``yaml.safe_dump`` writes them as anchors and
    aliases (a few hundred bytes), which expand to 10**levels values."""
    node: list[Any] = ["lol"] * 10
    for _ in range(levels - 1):
        node = [node] * 10
    return node


def deep_value(levels: int) -> Any:
    node: Any = 1
    for _ in range(levels):
        node = [node]
    return node


def paths_of(doc: Any) -> list[tuple[Any, ...]]:
    """A path to each value of a JSON-like document (the root is ``()``), each shared or deep
    object visited once, without recursion."""
    found: list[tuple[Any, ...]] = []
    seen: set[int] = set()
    stack: list[tuple[Any, tuple[Any, ...]]] = [(doc, ())]
    while stack and len(found) < 500:
        node, path = stack.pop()
        found.append(path)
        if isinstance(node, dict | list):
            if id(node) in seen:
                continue
            seen.add(id(node))
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((value, (*path, key)) for key, value in items)
    return found


def get_at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated(draw: st.DrawFn, base: Any, fields: list[str], bombs: bool = True) -> Any:
    """``base`` with a few structural mutations: a value replaced, a key added or removed,
    a list item duplicated or dropped, a hostile, deep, long or (YAML only) aliased value put
    in."""
    doc = copy.deepcopy(base)
    kinds: set[str] = set()  # a bomb and a deep value never go together (see dump)
    for _ in range(draw(st.integers(0, 4))):
        path = draw(st.sampled_from(paths_of(doc)))
        target = get_at(doc, path)
        actions = ["replace", "add", "remove", "duplicate", "deep", "hostile", "long"]
        action = draw(st.sampled_from([*actions, "bomb"] if bombs else actions))
        if action == "replace" and path:
            get_at(doc, path[:-1])[path[-1]] = copy.deepcopy(draw(values))
        elif action == "add" and isinstance(target, dict):
            key = draw(st.one_of(st.sampled_from(fields), st.text(max_size=12)))
            target[key] = copy.deepcopy(draw(values))
        elif action == "remove" and isinstance(target, dict | list) and target:
            if isinstance(target, dict):
                del target[draw(st.sampled_from(sorted(target, key=str)))]
            else:
                del target[draw(st.integers(0, len(target) - 1))]
        elif action == "duplicate" and isinstance(target, list) and target:
            item = target[draw(st.integers(0, len(target) - 1))]
            # a deep value is shared, not copied: deepcopy would recurse into a RecursionError
            target.append(item if _depth(item) > 40 else copy.deepcopy(item))
        elif action == "deep" and path and "bomb" not in kinds:
            kinds.add("deep")
            levels = draw(st.sampled_from([3, 70, 700, 3000]))
            get_at(doc, path[:-1])[path[-1]] = deep_value(levels)
        elif action == "bomb" and path and "deep" not in kinds:
            kinds.add("bomb")
            get_at(doc, path[:-1])[path[-1]] = shared_bomb()
        elif action == "long" and path:
            long = draw(st.sampled_from(["7", "x", "../"])) * 200_000
            get_at(doc, path[:-1])[path[-1]] = long
        elif action == "hostile" and isinstance(target, dict):
            target[draw(st.sampled_from(fields))] = draw(st.sampled_from(HOSTILE))
    return doc


def dump(doc: Any, fmt: str) -> str:
    """YAML (aliases for shared objects) or JSON; JSON of an alias bomb would be gigabytes, so
    a document holding one is always YAML."""
    if _depth(doc) > 40:  # too deep for the emitters (decided here, not by the stack left)
        return _flow(doc)
    if fmt == "json" and not _has_bomb(doc):
        return json.dumps(doc, allow_nan=True)
    try:
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:
        return _flow(doc)


def _depth(doc: Any) -> int:
    deepest, seen = 0, set()
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list) and id(node) not in seen:
            seen.add(id(node))
            deepest = max(deepest, depth)
            items = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in items)
    return deepest


def _has_bomb(doc: Any) -> bool:
    seen: set[int] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list):
            if id(node) in seen:
                return True
            seen.add(id(node))
            stack.extend(node.values() if isinstance(node, dict) else node)
    return False


def _flow(node: Any) -> str:
    """JSON (which is YAML) for a document too deep for the emitters: deep single-item lists
    are written as runs of brackets (a deep value never holds a bomb)."""
    if isinstance(node, list):
        chain = 0
        while isinstance(node, list) and len(node) == 1:
            chain, node = chain + 1, node[0]
        if chain:
            return "[" * chain + _flow(node) + "]" * chain
        return "[" + ", ".join(_flow(i) for i in node) + "]"
    if isinstance(node, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_flow(v)}" for k, v in node.items()) + "}"
    return json.dumps(node, allow_nan=True)


@st.composite
def text_mutation(draw: st.DrawFn, text: str) -> str:
    """The serialized document, sometimes with a few characters flipped, a cut, a repeat or an
    alias bomb appended."""
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["none", "flip", "cut", "repeat", "insert", "bomb"]))
        at = draw(st.integers(0, max(len(text) - 1, 0)))
        if kind == "flip" and text:
            text = text[:at] + draw(st.characters()) + text[at + 1 :]
        elif kind == "cut":
            text = text[:at]
        elif kind == "repeat":
            text = text[:at] + text[at : at + 40] * draw(st.integers(2, 5)) + text[at:]
        elif kind == "insert":
            text = (
                text[:at]
                + draw(st.sampled_from(["[", "{", "&a ", "*a", ": ", "\n- ", '"']))
                + text[at:]
            )
        elif kind == "bomb":
            bomb = ["z0: &z0 [" + ",".join(["lol"] * 10) + "]"]
            bomb += [f"z{i}: &z{i} [" + ",".join([f"*z{i - 1}"] * 10) + "]" for i in range(1, 9)]
            text = text.rstrip("\n") + "\n" + "\n".join(bomb) + "\n"
    return text


def write(box: Sandbox, name: str, text: str) -> Path:
    path = box.root / name
    path.write_text(
        text.replace(SENTINEL_MARK, str(box.sentinel)), encoding="utf-8", errors="surrogatepass"
    )
    return path


# ── the documents ────────────────────────────────────────────────────────────────────────────

TINY = {"rows": 16, "columns": 16}
SPEC_BASE: dict[str, Any] = {
    "name": "fz",
    "seed": 1,
    "defaults": {"pixels": dict(TINY), "tags": {"InstitutionName": "Fuzz"}},
    "patients": [
        {
            "name": "Doe^Jane",
            "studies": [
                {"role": "current", "series": [{"views": ["RCC", "LCC"]}]},
                {
                    "role": "prior",
                    "date": "-2y",
                    "series": [{"instances": [{"view": "RMLO", "file_name": "a.dcm"}]}],
                },
            ],
        }
    ],
}
SPEC_FIELDS = [
    "name", "seed", "uid_root", "reference_date", "defaults", "patients", "studies", "series",
    "instances", "iod", "tags", "remove_tags", "pixels", "transfer_syntax", "permissive", "view",
    "file_name", "skip_writing", "sop_instance_uid", "uid", "views", "count", "role", "date",
    "rows", "columns", "frames", "bits_stored", "PatientName", "StudyDate", "StudyInstanceUID",
    "SOPInstanceUID", "(0029,1010)", '(0029,"ACME",10)',
]  # fmt: skip


def small_legacy(path: Path) -> dict[str, Any]:
    """An old config with every image made tiny (Rows/Columns 32, no force_large_dims), so that it
    builds fast."""
    doc = json.loads(path.read_text())

    def shrink(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("force_large_dims", None)
            for key in list(node):
                if key in ("Rows", "Columns"):
                    node[key] = 32
                else:
                    shrink(node[key])
        elif isinstance(node, list):
            for item in node:
                shrink(item)

    shrink(doc)
    return doc


LEGACY_BASES = [
    small_legacy(p)
    for p in (
        LEGACY_DATA / "power_config.json",
        LEGACY_DATA / "wizard_config.json",
        REPO / "examples" / "legacy" / "power-customize.json",
    )
    if p.is_file()
]
LEGACY_FIELDS = [
    "outputDir", "current_study", "internal_priors", "external_priors", "images", "tags",
    "count", "cancerous", "description", "file_name", "skip_writing", "force_bits_mismatch",
    "PatientName", "StudyInstanceUID", "SOPInstanceUID", "Rows", "Columns", "ViewPosition",
    "type", "force_corrupt_pixel", "no_pixel_data", "SeriesInstanceUID", "SeriesNumber",
    "Laterality", "ImageLaterality", "StudyTime",
]  # fmt: skip

PARAMS_BASE: dict[str, Any] = {
    "patient": {"name": "Doe^Jane", "id": "P1", "birth_date": "-62y", "sex": "F"},
    "image_size": "small",
}
PARAMS_FIELDS = ["patient", "name", "id", "birth_date", "sex", "image_size", "site", "seed"]

SITES_BASE: dict[str, Any] = {
    "fuzz": {
        "description": "a fuzzed site",
        "patient": {"name": "SITE^P", "birth_date": "1960-01-02", "id": "S1", "issuer": "X"},
        "institution": "Fuzz Hospital",
        "manufacturer": "ACME",
        "model": "M1",
        "station": "ST1",
    }
}
SITES_FIELDS = [
    "description", "patient", "name", "birth_date", "id", "issuer", "sex", "institution",
    "manufacturer", "model", "station", "masc", "generic",
]  # fmt: skip

TARGETS_BASE: dict[str, Any] = {
    "targets": {
        "pacs": {
            "description": "a PACS",
            "ingest": {"kind": "cstore", "host": "127.0.0.1", "port": 4242, "called_ae": "PACS"},
            "verify": {"kind": "cfind", "host": "127.0.0.1", "port": 4242, "called_ae": "PACS"},
            "policy": {"quarantine": "reject"},
        },
        "product": {
            "ingest": {
                "kind": "command",
                "command": ["ingest", "{folder}"],
                "env": {"PARTNER": "${FUZZ_PARTNER}"},
                "sentinel": "{folder}/done.txt",
            },
            "verify": {
                "kind": "sql",
                "url": "postgresql+psycopg://reader:${DB_PW}@db.internal:5432/product",
                "query": "SELECT 1",
            },
        },
    }
}
TARGETS_FIELDS = [
    "targets", "description", "ingest", "verify", "policy", "expect", "wait", "kind", "host",
    "port", "called_ae", "calling_ae", "command", "env", "passthrough", "public", "sentinel",
    "timeout", "url", "query", "profile", "ssh", "target", "bastion", "key", "password",
]  # fmt: skip


def toml_dump(doc: Any) -> str:
    """A small TOML writer for fuzzed data: tables for mappings of mappings, inline values
    otherwise; what TOML cannot hold (null, a mixed or empty key) is written anyway as text
    the parser must refuse cleanly."""

    def key(k: Any) -> str:
        return json.dumps(str(k))

    def inline(v: Any) -> str:
        if v is None:
            return "null"  # not TOML: must be refused cleanly
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            text = repr(v)
            return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(text, text)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, list):
            depth, inner = 0, v
            while isinstance(inner, list) and len(inner) == 1 and depth <= 50:
                depth, inner = depth + 1, inner[0]
            if depth > 50:  # a deep_value: written flat, as the parser will meet it
                chain = 0
                while isinstance(v, list) and v:
                    chain, v = chain + 1, v[0]
                return "[" * chain + inline(v) + "]" * chain
            return "[" + ", ".join(inline(i) for i in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{key(k)} = {inline(i)}" for k, i in v.items()) + "}"
        return json.dumps(str(v))

    lines: list[str] = []

    def table(node: dict[Any, Any], prefix: list[str]) -> None:
        subtables = {k: v for k, v in node.items() if isinstance(v, dict) and v}
        for k, v in node.items():
            if k not in subtables:
                lines.append(f"{key(k)} = {inline(v)}")
        for k, v in subtables.items():
            name = [*prefix, key(k)]
            lines.append(f"\n[{'.'.join(name)}]")
            table(v, name)

    if isinstance(doc, dict):
        table(doc, [])
    else:
        lines.append(f"value = {inline(doc)}")
    return "\n".join(lines) + "\n"


# ── the tests ────────────────────────────────────────────────────────────────────────────────

SCENARIO = ["generate", "-s", "pr_bits_mismatch", "--set", "image_size=small", "-q", "-j", "1"]


@FUZZ
@given(
    doc=mutated(SPEC_BASE, SPEC_FIELDS),
    fmt=st.sampled_from(["yaml", "json"]),
    data=st.data(),
)
def test_fuzz_spec(doc: Any, fmt: str, data: st.DataObject) -> None:
    with sandbox() as box:
        spec = write(box, f"spec.{fmt}", data.draw(text_mutation(dump(doc, fmt))))
        valid = box.check("validate", spec) == 0
        built = box.check(
            "generate", "--output", box.root / "out", "--config", spec, "-q", "-j", "1"
        )
        assert built == 0 or not valid, "validate said valid, generate refused it"


@pytest.mark.skipif(not LEGACY_BASES, reason="no old-format sample")
@FUZZ
@given(
    base=st.sampled_from(LEGACY_BASES or [{}]),
    data=st.data(),
)
def test_fuzz_legacy_config(base: dict[str, Any], data: st.DataObject) -> None:
    doc = data.draw(mutated(base, LEGACY_FIELDS))
    with sandbox() as box:
        config = write(box, "old.json", data.draw(text_mutation(dump(doc, "json"))))
        box.check("validate", config)
        box.check("generate", "--output", box.root / "out", "--config", config, "-q", "-j", "1")


@FUZZ
@given(
    doc=mutated(PARAMS_BASE, PARAMS_FIELDS),
    fmt=st.sampled_from(["yaml", "json"]),
    data=st.data(),
)
def test_fuzz_params_file(doc: Any, fmt: str, data: st.DataObject) -> None:
    with sandbox() as box:
        params = write(box, f"params.{fmt}", data.draw(text_mutation(dump(doc, fmt))))
        box.check(*SCENARIO, "--params", params, "-o", box.root / "out")


@FUZZ
@given(doc=mutated(SITES_BASE, SITES_FIELDS), data=st.data())
def test_fuzz_sites_file(doc: Any, data: st.DataObject) -> None:
    with sandbox() as box:
        sites = write(box, "sites.yaml", data.draw(text_mutation(dump(doc, "yaml"))))
        box.check(*SCENARIO, "--sites", sites, "-o", box.root / "out")
        name = next(iter(doc), "fuzz") if isinstance(doc, dict) else "fuzz"
        box.check(
            "generate", "-s", "masc_ext_prior", "--sites", sites, "--set", f"site={name}",
            "--set", "image_size=small", "-q", "-j", "1", "-o", box.root / "out2",
        )  # fmt: skip


@FUZZ
@given(doc=mutated(TARGETS_BASE, TARGETS_FIELDS, bombs=False), data=st.data())
def test_fuzz_targets_file(doc: Any, data: st.DataObject) -> None:
    with sandbox() as box:
        config = write(box, "dicomfab.toml", data.draw(text_mutation(toml_dump(doc))))
        box.check("targets", "--config", config)
