"""dicomfab.toml: targets, secrets from the environment or .env, errors with their key path."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from dicomfab.errors import SpecError
from dicomfab.targets.config import find_config, load_targets

EXAMPLE = """
[targets.orthanc]
description = "Orthanc with its PostgreSQL index"
ingest = { kind = "cstore", host = "127.0.0.1", port = 4242, called_ae = "ORTHANC" }
policy = { quarantine = "reject" }

[targets.orthanc.verify]
kind = "sql"
profile = "orthanc-postgres"
url = "postgresql+psycopg://orthanc:${DB_PW}@127.0.0.1:5432/orthanc"

[targets.product.ingest]
kind = "command"
command = ["ingest", "{folder}"]
env = { PARTNER = "${BOLUS2_PARTNER_NAME}" }
sentinel = "{folder}/ingestion_complete.txt"

[targets.product.verify]
kind = "sql"
url = "postgresql+psycopg://reader:${DB_PW}@db.internal:5432/product"
query = "SELECT instance_uid AS sop_instance_uid FROM image WHERE instance_uid IN :uids"
ssh = { target = "${SSH_TARGET}", bastion = "${SSH_BASTION}", key = "${SSH_KEY}" }
"""


def test_targets_load_with_secrets_from_env_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "dicomfab.toml"
    config.write_text(EXAMPLE)
    (tmp_path / ".env").write_text('DB_PW="s3cret pw"\nexport SSH_TARGET=admin@db\n# comment\n')
    environ = {"BOLUS2_PARTNER_NAME": "acme", "SSH_BASTION": "me@bastion", "SSH_KEY": "/k"}
    targets = load_targets(config, environ)
    orthanc = targets.get("orthanc")
    assert orthanc.ingest.kind == "cstore" and orthanc.ingest.port == 4242
    # in a URL's userinfo the value is percent-encoded; the driver gets it back as it was
    assert orthanc.verify.kind == "sql" and "orthanc:s3cret%20pw@" in orthanc.verify.url
    assert make_url(orthanc.verify.url).password == "s3cret pw"
    assert orthanc.policy == {"quarantine": "reject"}
    product = targets.get("product")
    assert product.ingest.kind == "command" and product.ingest.env == {"PARTNER": "acme"}
    assert product.verify.kind == "sql" and product.verify.ssh is not None
    assert product.verify.ssh.target == "admin@db"
    shown = targets.mask(f"{orthanc.verify.url} {product.ingest.env}")
    assert "s3cret pw" not in shown and "***" in shown
    assert "acme" not in shown  # a ${…} in a command's env is masked unless marked public
    assert "admin@db" in targets.mask(product.verify.ssh.target)  # not secret


def test_environment_wins_over_env_file(tmp_path: Path) -> None:
    config = tmp_path / "dicomfab.toml"
    config.write_text(EXAMPLE)
    (tmp_path / ".env").write_text("DB_PW=from-file\n")
    environ = {
        "DB_PW": "from-env",
        "BOLUS2_PARTNER_NAME": "x",
        "SSH_TARGET": "a",
        "SSH_BASTION": "b",
        "SSH_KEY": "c",
    }
    assert "from-env" in load_targets(config, environ).get("orthanc").verify.url


@pytest.mark.parametrize(
    ("text", "name", "fragments"),
    [
        (EXAMPLE, "product", ["targets.product.ingest.env.PARTNER", "${BOLUS2_PARTNER_NAME}"]),
        (
            '[targets.a]\ningest = { kind = "cstore", port = 1, called_ae = "X", hots = "h" }\n'
            'verify = { kind = "cfind", port = 2, called_ae = "Y" }\n',
            "a",
            ["targets.a.ingest.hots: unknown key", "did you mean host"],
        ),
        (
            '[targets.a]\ningest = { kind = "ftp" }\nverify = { kind = "cfind", port = 2, '
            'called_ae = "Y" }\n',
            "a",
            ["targets.a.ingest"],
        ),
        ("[targets.a\n", None, ["invalid TOML"]),
    ],
)
def test_bad_config_names_file_and_key(
    tmp_path: Path, text: str, name: str | None, fragments: list[str]
) -> None:
    """A file that does not parse raises when loaded; a bad target raises when selected."""
    config = tmp_path / "dicomfab.toml"
    config.write_text(text)
    with pytest.raises(SpecError) as info:
        targets = load_targets(
            config, {"DB_PW": "x", "SSH_TARGET": "a", "SSH_BASTION": "b", "SSH_KEY": "c"}
        )
        assert name is not None and name in targets.broken
        targets.get(name)
    message = str(info.value)
    assert str(config) in message
    for fragment in fragments:
        assert fragment in message


def test_unknown_target_suggests_the_nearest(tmp_path: Path) -> None:
    config = tmp_path / "dicomfab.toml"
    config.write_text(EXAMPLE)
    targets = load_targets(
        config,
        {
            "DB_PW": "x",
            "BOLUS2_PARTNER_NAME": "p",
            "SSH_TARGET": "a",
            "SSH_BASTION": "b",
            "SSH_KEY": "c",
        },
    )
    with pytest.raises(SpecError, match="did you mean orthanc"):
        targets.get("orthnac")


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert find_config(None, tmp_path) is None
    user = tmp_path / "xdg" / "dicomfab" / "dicomfab.toml"
    user.parent.mkdir(parents=True)
    user.write_text("")
    assert find_config(None, tmp_path) == user
    (tmp_path / "dicomfab.toml").write_text("")
    assert find_config(None, tmp_path) == tmp_path / "dicomfab.toml"
    assert find_config(tmp_path / "other.toml", tmp_path) == tmp_path / "other.toml"
