"""The ``command`` ingestor against a real PACS: DCMTK's storescu sends a generated folder into
Orthanc 1.10 (PostgreSQL index) and touches a sentinel; the Orthanc-PostgreSQL SQL profile then
finds every instance. Faults: non-zero exit, no sentinel, command not found, a secret masked in
the log, a passthrough variable reaching the process."""

from __future__ import annotations

from pathlib import Path

import pytest
from stack import OrthancStack

from dicomfab import Manifest, generate, parse_spec
from dicomfab.errors import TargetError, TargetTimeoutError
from dicomfab.targets.command import CommandIngestor, CommandResult
from dicomfab.targets.profiles import orthanc_postgres_verifier
from expected import expected_observations

STORESCU = "/usr/bin/storescu"  # DCMTK's; the one in .venv/bin is pynetdicom's
SPEC = {
    "seed": 20261128,
    "defaults": {"pixels": {"rows": 64, "columns": 48}},
    "patients": [{"studies": [{"series": [{}, {}]}]}],
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Manifest, Path]:
    result = generate(parse_spec(SPEC), tmp_path_factory.mktemp("cmdgen"), workers=1)
    return result.manifest, result.path


def test_storescu_ingests_the_folder_and_every_instance_arrives(
    orthanc_stack: OrthancStack, dataset: tuple[Manifest, Path], tmp_path: Path
) -> None:
    manifest, folder = dataset
    expected = expected_observations(manifest, names=False)
    assert len(expected) == len(list(folder.glob("dicoms/**/*.dcm"))) > 1
    sentinel = folder / "ingestion_complete.txt"
    sentinel.unlink(missing_ok=True)
    store = (
        f'{STORESCU} +sd +r -aet DICOMFAB -aec "$CALLED_AE" {orthanc_stack.host} '
        f'{orthanc_stack.dicom_port} "$DICOMS" && touch "$SENTINEL"'
    )
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", store],
        folder=folder,
        env={
            "CALLED_AE": orthanc_stack.ae_title,
            "DICOMS": "{dicoms}",
            "SENTINEL": "{folder}/ingestion_complete.txt",
        },
        sentinel="{folder}/ingestion_complete.txt",
        timeout=120,
        log_path=tmp_path / "ingest.log",
    )

    receipt = ingestor.ingest(sorted(folder.glob("dicoms/**/*.dcm")))

    result = ingestor.last_result
    assert isinstance(result, CommandResult)
    assert result.sentinel == sentinel and sentinel.exists()
    assert result.returncode == 0 and not result.terminated
    assert result.log_path == tmp_path / "ingest.log" and result.log_path.exists()
    assert receipt.results == [] and receipt.elapsed == result.elapsed > 0
    observed = orthanc_postgres_verifier(
        orthanc_stack.pg_host,
        orthanc_stack.pg_port,
        orthanc_stack.database,
        orthanc_stack.user,
        orthanc_stack.password,
    ).observe(expected)
    assert set(observed.instances) == set(expected)
    for uid, want in expected.items():
        got = observed.get(uid)
        assert got is not None
        assert got.study_instance_uid == want.study_instance_uid
        assert got.series_instance_uid == want.series_instance_uid
        assert got.sop_class_uid == want.sop_class_uid


def test_placeholders_are_replaced_in_argv_cwd_and_env(tmp_path: Path) -> None:
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", 'echo "arg={jsons} cwd=$(pwd) env=$WHERE"'],
        folder=tmp_path,
        cwd=Path("{folder}"),
        env={"WHERE": "{dicoms}"},
        log_path=tmp_path / "log.txt",
    )
    result = ingestor.run()
    assert result.argv[2] == f'echo "arg={tmp_path}/jsons cwd=$(pwd) env=$WHERE"'
    log = result.log_path.read_text()
    assert f"arg={tmp_path}/jsons cwd={tmp_path} env={tmp_path}/dicoms" in log


def test_a_string_command_is_split_without_a_shell(tmp_path: Path) -> None:
    result = CommandIngestor(
        "/bin/echo 'two words' $HOME", folder=tmp_path, log_path=tmp_path / "log.txt"
    ).run()
    assert result.argv == ("/bin/echo", "two words", "$HOME")
    assert "two words $HOME" in result.log_path.read_text()


def _fails(ingestor: CommandIngestor, kind: type[TargetError] = TargetError) -> str:
    with pytest.raises(kind) as info:
        ingestor.run()
    message = str(info.value)
    assert "\n" not in message
    assert ingestor.last_log_path is not None and ingestor.last_log_path.exists()
    return message


def test_non_zero_exit_is_a_one_line_error_with_the_last_log_line(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", "echo starting; echo boom >&2; exit 3"], folder=tmp_path, log_path=log
    )
    assert _fails(ingestor) == "ingest command exited with 3: boom"
    assert "starting\nboom\n" in log.read_text()


def test_non_zero_exit_before_the_sentinel_is_an_error(tmp_path: Path) -> None:
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", "echo no data >&2; exit 2"],
        folder=tmp_path,
        sentinel="done.txt",
        timeout=30,
        log_path=tmp_path / "log.txt",
    )
    assert _fails(ingestor) == "ingest command exited with 2: no data"


def test_a_sentinel_never_written_times_out(tmp_path: Path) -> None:
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", "echo working; sleep 30"],
        folder=tmp_path,
        sentinel="{folder}/ingestion_complete.txt",
        timeout=1,
        log_path=tmp_path / "log.txt",
    )
    message = _fails(ingestor, TargetTimeoutError)
    assert message == (
        f"ingest command timed out after 1 s waiting for sentinel "
        f"{tmp_path / 'ingestion_complete.txt'}"
    )
    text = (tmp_path / "log.txt").read_text()
    assert "working" in text and "stopped the command" in text


def test_exit_0_then_the_sentinel_written_later_completes(tmp_path: Path) -> None:
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", "(sleep 0.5; touch {folder}/done.txt) >/dev/null 2>&1 & exit 0"],
        folder=tmp_path,
        sentinel="done.txt",
        timeout=30,
        log_path=tmp_path / "log.txt",
    )
    result = ingestor.run()
    assert result.sentinel == tmp_path / "done.txt" and result.returncode == 0


def test_a_process_still_running_after_the_sentinel_is_stopped(tmp_path: Path) -> None:
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", "touch {folder}/done.txt; exec sleep 60"],
        folder=tmp_path,
        sentinel="done.txt",
        timeout=30,
        exit_grace=0.5,
        log_path=tmp_path / "log.txt",
    )
    result = ingestor.run()
    assert result.terminated and result.returncode == -15
    assert result.elapsed < 10


def test_a_command_that_does_not_exist(tmp_path: Path) -> None:
    ingestor = CommandIngestor(
        ["dicomfab-no-such-importer", "{folder}"], folder=tmp_path, log_path=tmp_path / "log.txt"
    )
    assert _fails(ingestor) == "ingest command not found: dicomfab-no-such-importer"


def test_a_secret_from_env_is_masked_in_the_log_and_the_error(tmp_path: Path) -> None:
    secret = "Xy7-very-secret-Pa55"
    log = tmp_path / "log.txt"
    ingestor = CommandIngestor(
        ["/bin/sh", "-c", 'echo "login with $BOLUS2_PASSWORD"; echo "bad $BOLUS2_PASSWORD" >&2; '
         "exit 5"],
        folder=tmp_path,
        env={"BOLUS2_PASSWORD": secret},
        secrets=[secret],
        log_path=log,
    )  # fmt: skip
    message = _fails(ingestor)
    assert message == "ingest command exited with 5: bad ***"
    text = log.read_text()
    assert "login with ***" in text and secret not in text


def test_passthrough_reaches_the_process_and_a_missing_one_is_noted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOLUS2_PARTNER_NAME", "ACME Imaging")
    monkeypatch.setenv("BOLUS2_PASSWORD", "pass-through-Secret-1")
    monkeypatch.delenv("PY_VENV", raising=False)
    log = tmp_path / "log.txt"
    result = CommandIngestor(
        ["/bin/sh", "-c", 'echo "partner=$BOLUS2_PARTNER_NAME pw=$BOLUS2_PASSWORD"'],
        folder=tmp_path,
        passthrough=["BOLUS2_PARTNER_NAME", "BOLUS2_PASSWORD", "PY_VENV"],
        public=["BOLUS2_PARTNER_NAME"],
        log_path=log,
    ).run()
    text = log.read_text()
    assert "partner=ACME Imaging pw=***" in text  # every passthrough is masked unless public
    assert result.missing_passthrough == ("PY_VENV",)
    assert "passthrough variables not set: PY_VENV" in text
