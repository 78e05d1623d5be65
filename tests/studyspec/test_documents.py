"""The bounded document loader (dicomfab.studyspec.documents): every way a document comes in (spec,
old config, --params, --set, --sites, dicomfab.toml) refuses inputs that are too large, too deep
or that expand too far, with exit 2 and one short message that names the source, never a
traceback, a RecursionError or a MemoryError."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from dicomfab.cli import main
from dicomfab.errors import LimitError, SpecError, shorten
from dicomfab.studyspec.documents import MAX_DEPTH, parse_document, read_document


def alias_bomb(levels: int = 10, width: int = 10) -> str:
    """The 'billion laughs' in a spec's field: each level lists the previous one ``width``
    times (1 KB of text, 10**9 values once expanded)."""
    lines = ["name: bomb", "patients:", f"- &a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"- &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def deep(fmt: str, levels: int) -> str:
    if fmt == "json":
        return '{"patients": ' + "[" * levels + "]" * levels + "}"
    if fmt == "toml":
        return "patients = " + "[" * levels + "]" * levels + "\n"
    if levels > 1000:  # YAML flow style
        return "patients: " + "[" * levels + "]" * levels + "\n"
    # YAML block style: one mapping per level, each indented one more
    return "".join(f"{' ' * i}k{i}:\n" for i in range(levels)) + " " * levels + "v: 1\n"


Cli = Callable[..., tuple[int, str]]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """``dicomfab ARGS`` in this process, in a folder: (exit code, stdout + stderr). Anything
    but SystemExit (a RecursionError, a MemoryError) fails the test."""

    def invoke(cwd: Path, *args: str | Path) -> tuple[int, str]:
        monkeypatch.chdir(cwd)
        with pytest.raises(SystemExit) as info:
            main([str(a) for a in args])
        out, err = capsys.readouterr()
        code = info.value.code
        return (code if isinstance(code, int) else 1), out + err

    return invoke


def assert_refused(code: int, output: str, *fragments: str) -> None:
    assert code == 2, output[:2000]
    assert "Traceback" not in output and "RecursionError" not in output, output[:2000]
    assert output.lstrip().startswith("error: "), output[:2000]
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in {output[:2000]!r}"


# ── the loader itself ─────────────────────────────────────────────────────────────────────────


def test_alias_bomb_is_refused_at_once() -> None:
    with pytest.raises(LimitError) as info:
        parse_document(alias_bomb(), fmt="yaml", source="bomb.yaml")
    assert "bomb.yaml: line " in str(info.value)
    assert "aliases expand to more than" in str(info.value)


def test_anchors_within_the_bounds_still_work() -> None:
    text = "base: &b {rows: 64, columns: 64}\nuse: *b\nmerged: {<<: *b, rows: 32}\n"
    data = parse_document(text, fmt="yaml", source="ok.yaml")
    assert data["use"] == {"rows": 64, "columns": 64}
    assert data["merged"] == {"rows": 32, "columns": 64}


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(LimitError, match=r"cycle\.yaml: line 1, column \d+: alias \*a refers"):
        parse_document("a: &a [1, *a]\n", fmt="yaml", source="cycle.yaml")


@pytest.mark.parametrize("fmt", ["yaml", "json", "toml"])
@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 600, 5000])
def test_nesting_past_the_limit_is_refused(fmt: str, levels: int) -> None:
    with pytest.raises(LimitError, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse_document(deep(fmt, levels), fmt=fmt, source=f"deep.{fmt}")  # type: ignore[arg-type]
    parse_document(deep(fmt, MAX_DEPTH - 2), fmt=fmt, source=f"ok.{fmt}")  # type: ignore[arg-type]


def test_depth_reached_through_aliases_and_dotted_keys_is_refused() -> None:
    nested = "[" * 40 + "1" + "]" * 40
    with pytest.raises(LimitError, match="nested more than"):
        parse_document(f"a: &a {nested}\nb: [{'[' * 40}*a{']' * 40}]\n", fmt="yaml", source="y")
    with pytest.raises(LimitError, match="nested more than"):
        parse_document("a" + ".a" * 100 + " = 1\n", fmt="toml", source="t")


def test_json_depth_error_points_at_the_place() -> None:
    text = '{"a": "[[[[", "b":\n  ' + "[" * 70 + "]" * 70 + "}"
    with pytest.raises(LimitError, match=r"x\.json: line 2, column 66: nested more than 64"):
        parse_document(text, fmt="json", source="x.json")


def test_size_is_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:  # sparse: 60 MiB on paper, nothing on disk
        f.truncate(60 * 2**20)
    with pytest.raises(LimitError, match=r"big\.yaml: is 60\.0 MiB; the limit is 8 MiB"):
        read_document(big)
    with pytest.raises(LimitError, match=r"--set x: is 9\.0 MiB; the limit is 8 MiB"):
        parse_document("x" * (9 * 2**20), fmt="yaml", source="--set x")


def test_a_device_is_read_only_up_to_the_limit() -> None:
    with pytest.raises(LimitError, match="/dev/zero: is larger than the limit of 8 MiB"):
        read_document(Path("/dev/zero"))


def test_syntax_errors_still_name_line_and_column() -> None:
    with pytest.raises(SpecError, match=r"s\.yaml: line 2, column 1: invalid YAML"):
        parse_document("patients: [1\n", fmt="yaml", source="s.yaml")
    with pytest.raises(SpecError, match=r"s\.json: line 1, column 12: invalid JSON"):
        parse_document('{"seed": 1,,}', fmt="json", source="s.json")
    with pytest.raises(SpecError, match=r"t\.toml: invalid TOML: .*line 1"):
        parse_document("[targets.a\n", fmt="toml", source="t.toml")


def test_shorten_cuts_long_values() -> None:
    assert shorten("abc") == "'abc'"
    assert shorten(5) == "5"
    long = shorten("x" * 50_000_000)
    assert len(long) <= 80 and long.startswith("'xxx") and long.endswith("...")
    assert len(shorten(list(range(10**6)))) <= 80
    assert len(shorten({"k" * 1000: ["v" * 1000]})) <= 80


# ── through the command line ─────────────────────────────────────────────────────────────────

BOMB_CHILD = textwrap.dedent(
    """
    import resource, sys
    # a safety net only for a broken loader: the bomb must not take the machine's memory
    resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))
    from dicomfab.cli import main
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    # VmHWM: this process's peak RSS (ru_maxrss would carry the parent's peak across exec)
    peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
    print("peak_kib", peak, file=sys.stderr)
    sys.exit(code)
    """
)


@pytest.mark.parametrize("command", [["validate"], ["generate", "-o", "out", "-c"]])
def test_alias_bomb_on_the_command_line(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "bomb.yaml").write_text(alias_bomb())
    assert (tmp_path / "bomb.yaml").stat().st_size < 1100
    proc = subprocess.run(
        [sys.executable, "-c", BOMB_CHILD, *command, "bomb.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    *lines, rss = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert lines == [
        "error: bomb.yaml: line 8, column 8: its aliases expand to more than 200,000 values"
    ]
    # the whole process (Python, numpy, pydicom, pydantic) stays small: nothing was expanded
    assert int(rss.split()[1]) < 400 * 1024, rss
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("fmt", "levels"), [("yaml", 600), ("json", 600), ("json", 100_000)])
def test_deep_spec_on_the_command_line(tmp_path: Path, cli: Cli, fmt: str, levels: int) -> None:
    spec = tmp_path / f"deep.{fmt}"
    spec.write_text(deep(fmt, levels))
    for command in (["validate", spec], ["generate", "-o", "out", "-c", spec]):
        code, output = cli(tmp_path, *command)
        assert_refused(code, output, f"deep.{fmt}: ", "nested more than 64 levels deep")
    assert not (tmp_path / "out").exists()


def test_deep_old_config_is_refused(tmp_path: Path, cli: Cli) -> None:
    old = {"current_study": {"images": [{"tags": {"x": json.loads("[" * 600 + "]" * 600)}}]}}
    (tmp_path / "old.json").write_text(json.dumps(old))  # json.dumps is fine at 600
    code, output = cli(tmp_path, "generate", "-o", "out", "--power-customize", "old.json")
    assert_refused(code, output, "old.json: ", "nested more than 64 levels deep")


SCENARIO = ["generate", "-s", "pr_bits_mismatch", "--set", "image_size=small", "-o", "out"]


def test_deep_params_and_sites_files_are_refused(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "params.json").write_text(deep("json", 2000))
    code, output = cli(tmp_path, *SCENARIO, "--params", "params.json")
    assert_refused(code, output, "params.json: ", "nested more than 64")
    (tmp_path / "sites.yaml").write_text(deep("yaml", 600))
    code, output = cli(tmp_path, *SCENARIO, "--sites", "sites.yaml")
    assert_refused(code, output, "sites.yaml: ", "nested more than 64")
    (tmp_path / "bomb.yaml").write_text(alias_bomb())
    code, output = cli(tmp_path, *SCENARIO, "--sites", "bomb.yaml")
    assert_refused(code, output, "bomb.yaml: line 8", "aliases expand to more than")
    code, output = cli(tmp_path, *SCENARIO, "--set", "patient.name=" + "[" * 3000 + "]" * 3000)
    assert_refused(code, output, "--set patient.name: ", "nested more than 64")
    assert not (tmp_path / "out").exists()


def test_deep_targets_file_is_refused(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "dicomfab.toml").write_text(deep("toml", 3000))
    code, output = cli(tmp_path, "targets", "--config", "dicomfab.toml")
    assert_refused(code, output, "dicomfab.toml: line 1, column ", "nested more than 64")


def test_60_mib_spec_is_refused_without_parsing(tmp_path: Path, cli: Cli) -> None:
    spec = tmp_path / "big.json"
    with spec.open("wb") as f:
        f.write(b'{"name": "')
        f.truncate(60 * 2**20)
    code, output = cli(tmp_path, "validate", spec)
    assert_refused(code, output, "big.json: is 60.0 MiB; the limit is 8 MiB")
    assert len(output) < 300


def test_long_values_are_not_echoed_whole(tmp_path: Path, cli: Cli) -> None:
    huge = "A" * 50_000_000
    code, output = cli(tmp_path, *SCENARIO, "--set", huge)
    assert_refused(code, output, "--set: 'AAAA", "write NAME=VALUE")
    assert len(output) < 300, len(output)
    del huge
    value = "9" * 5_000_000  # under the size limit: read, refused, quoted short
    spec = {
        "name": "long",
        "defaults": {"pixels": {"rows": 16, "columns": 16}},
        "patients": [{"studies": [{"series": [{"count": 1, "tags": {"StudyDate": value}}]}]}],
    }
    (tmp_path / "long.json").write_text(json.dumps(spec))
    code, output = cli(tmp_path, "validate", "long.json")
    assert_refused(code, output, "long.json: ", "tags.StudyDate", "is not a date")
    assert len(output) < 400, len(output)
    (tmp_path / "key.json").write_text(json.dumps({"k" * 5_000_000: 1}))
    code, output = cli(tmp_path, "validate", "key.json")
    assert_refused(code, output, "key.json: kkk", "unknown field")
    assert len(output) < 400, len(output)
