"""Fail closed: under TRDFLOW_ENV=production a missing secret, a weak key, a world-readable key
file or a connection that is not verified TLS stops start-up with the setting named (never its
value); development is unchanged."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.service import TLSConfig

from store.db import unverified_transport
from worker.client import (
    TemporalConfigError,
    connect,
    temporal_connect_config,
    temporal_transport_problems,
)
from worker.codec import CodecError, load_keyring
from worker.files import private_dir
from worker.production import ProductionConfigError, check_production, production_problems
from worker.settings import Settings

ROOT = Path(__file__).parent.parent

KEY_A = base64.b64encode(b"production key A, 32 bytes long!").decode()
KEY_B = base64.b64encode(b"production key B, 32 bytes long!").decode()
ZERO_KEY = base64.b64encode(bytes(32)).decode()
DB_PASSWORD = "db-pass-7f3c91"
TWILIO_TOKEN = "twilio-token-5be2aa"
PAGER_SECRET = "pager-secret-90d1c4"
REMS_TOKEN = "rems-token-13e8f0"
SMTP_PASSWORD = "smtp-pass-c0ffee"
API_KEY = "temporal-api-key-4a1b"
SECRETS: tuple[str, ...] = (KEY_A, KEY_B, ZERO_KEY, DB_PASSWORD, TWILIO_TOKEN, PAGER_SECRET)
SECRETS += (REMS_TOKEN, SMTP_PASSWORD, API_KEY)


@pytest.fixture(autouse=True)
def no_deployment_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings and the Temporal configuration read from this process's environment only
    where a test sets it."""
    for name in list(os.environ):
        if name.startswith(("TEMPORAL_", "TRDFLOW_", "DATABASE_URL", "TWILIO_", "SMTP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", "/nonexistent/temporal.toml")


TEMPORAL_CLOUD = {
    "TEMPORAL_ADDRESS": "trd-prod.a1b2c.tmprl.cloud:7233",
    "TEMPORAL_NAMESPACE": "trd-prod.a1b2c",
    "TEMPORAL_API_KEY": API_KEY,
}
"""The Temporal client's environment: an API key, so TLS by default."""
SELF_HOSTED = "temporal.internal:7233"


def production(state_dir: Path, **changes: Any) -> Settings:
    """A production configuration that passes, with `changes` made to it."""
    good: dict[str, Any] = {
        "environment": "production",
        "state_dir": state_dir,
        "codec_keys": {"2026-10": SecretStr(KEY_A), "2026-11": SecretStr(KEY_B)},
        "database_url": (
            f"postgresql://trdflow:{DB_PASSWORD}@db.internal:5432/trdflow"
            "?sslmode=verify-full&sslrootcert=/etc/trdflow/db-ca.pem"
        ),
        "public_url": "https://clinic.example.org",
        "sms_provider": "twilio",
        "twilio_account_sid": "AC0123",
        "twilio_auth_token": SecretStr(TWILIO_TOKEN),
        "twilio_from_number": "+15550100000",
        "email_provider": "smtp",
        "smtp_host": "smtp.internal",
        "smtp_from": "clinic@example.org",
        "smtp_username": "trdflow",
        "smtp_password": SecretStr(SMTP_PASSWORD),
        "rems_provider": "portal",
        "rems_portal_url": "https://rems-portal.example",
        "rems_portal_token": SecretStr(REMS_TOKEN),
        "pager_provider": "pagerduty",
        "pagerduty_webhook_secret": SecretStr(PAGER_SECRET),
    }
    return Settings(**(good | changes))


def refusal(settings: Settings, env: dict[str, str] | None = None) -> str:
    """The message start-up stops with; it must quote no secret."""
    with pytest.raises(ProductionConfigError) as refused:
        check_production(settings, TEMPORAL_CLOUD if env is None else env)
    message = str(refused.value)
    assert [secret for secret in SECRETS if secret in message] == []
    assert message.count("\n  - ") == len(refused.value.problems)  # one line each
    return message


def test_a_good_production_configuration_starts(tmp_path: Path) -> None:
    check_production(production(tmp_path), TEMPORAL_CLOUD)

    assert not (tmp_path / "codec-keys.json").exists()


def test_development_checks_nothing(tmp_path: Path) -> None:
    dev = Settings(state_dir=tmp_path, allow_simulation=True, codec_local_ui=True)

    check_production(dev, {})

    assert production_problems(dev, {}) == []


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"codec_keys": None}, "TRDFLOW_CODEC_KEYS: not set"),
        ({"codec_keys": {"k1": SecretStr(ZERO_KEY)}}, "TRDFLOW_CODEC_KEYS: codec key 'k1' is all"),
        (
            {"codec_keys": {"k1": SecretStr(KEY_A), "k2": SecretStr(KEY_A)}},
            "TRDFLOW_CODEC_KEYS: codec keys 'k1' and 'k2' are the same key",
        ),
        ({"codec_keys": {"k1": SecretStr("c2hvcnQ=")}}, "TRDFLOW_CODEC_KEYS: codec key 'k1' must"),
        ({"codec_active_key": "2027-01"}, "TRDFLOW_CODEC_ACTIVE_KEY: '2027-01' is not a key"),
        ({"database_url": None}, "DATABASE_URL: not set"),
        (
            {"database_url": f"postgresql://trdflow:{DB_PASSWORD}@db.internal/trdflow"},
            "DATABASE_URL: no sslmode",
        ),
        (
            {"database_url": f"postgresql://u:{DB_PASSWORD}@db.internal/trdflow?sslmode=require"},
            "DATABASE_URL: sslmode=require",
        ),
        ({"twilio_auth_token": None}, "TWILIO_AUTH_TOKEN: not set"),
        ({"twilio_account_sid": None}, "TWILIO_ACCOUNT_SID: not set"),
        ({"twilio_api_base": "http://api.twilio.com"}, "TWILIO_API_BASE: must be an https://"),
        ({"pagerduty_webhook_secret": None}, "PAGERDUTY_WEBHOOK_SECRET: not set"),
        ({"pager_provider": "outbox"}, "TRDFLOW_PAGER_PROVIDER: outbox"),
        ({"pagerduty_events_base": "http://pd.test"}, "PAGERDUTY_EVENTS_BASE: must be an https://"),
        ({"public_url": None}, "TRDFLOW_PUBLIC_URL: must be"),
        ({"public_url": "http://clinic.example.org"}, "TRDFLOW_PUBLIC_URL: must be"),
        ({"smtp_from": None}, "SMTP_FROM: not set"),
        ({"rems_portal_token": None}, "REMS_PORTAL_TOKEN: not set"),
        ({"rems_portal_url": "http://rems.test"}, "REMS_PORTAL_URL: must be an https://"),
        ({"allow_simulation": True}, "TRDFLOW_ALLOW_SIMULATION: must be off"),
        ({"codec_local_ui": True}, "TRDFLOW_CODEC_LOCAL_UI: must be off"),
        (
            {"oidc_issuer": "http://idp.example.org", "oidc_client_id": "trdflow"},
            "TRDFLOW_OIDC_ISSUER: must be an https://",
        ),
        ({"oidc_issuer": "https://idp.example.org"}, "TRDFLOW_OIDC_CLIENT_ID: not set"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_each_bad_setting_stops_start_up_naming_it(
    tmp_path: Path, changes: dict[str, Any], named: str
) -> None:
    message = refusal(production(tmp_path, **changes))

    assert f"  - {named}" in message


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TEMPORAL_ADDRESS": SELF_HOSTED}, ["TEMPORAL_TLS:", "TEMPORAL_API_KEY:"]),
        ({**TEMPORAL_CLOUD, "TEMPORAL_TLS": "false"}, ["TEMPORAL_TLS:"]),
        ({"TEMPORAL_ADDRESS": SELF_HOSTED, "TEMPORAL_TLS": "true"}, ["TEMPORAL_API_KEY:"]),
        ({**TEMPORAL_CLOUD, "TEMPORAL_PROFILE": "nowhere"}, ["TEMPORAL_PROFILE"]),
    ],
    ids=["plaintext", "tls-off", "no-credentials", "unknown-profile"],
)
def test_a_temporal_connection_without_tls_and_credentials_is_refused(
    tmp_path: Path, env: dict[str, str], named: list[str]
) -> None:
    message = refusal(production(tmp_path), env)

    assert [name for name in named if name not in message] == []


def test_a_bad_config_file_is_named_without_quoting_its_api_key(tmp_path: Path) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(f'[profile.default]\napi_key = "{API_KEY}" oops\n')

    message = refusal(production(tmp_path), {"TEMPORAL_CONFIG_FILE": str(config)})

    assert "TEMPORAL_CONFIG_FILE" in message


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    bare = Settings(environment="production", state_dir=tmp_path)

    message = refusal(bare, {})

    for name in (
        "TRDFLOW_CODEC_KEYS",
        "DATABASE_URL",
        "TEMPORAL_TLS",
        "TEMPORAL_API_KEY",
        "TRDFLOW_PAGER_PROVIDER",
        "TRDFLOW_PUBLIC_URL",
    ):
        assert f"  - {name}:" in message
    assert not tmp_path.joinpath("codec-keys.json").exists()


def test_the_deploy_example_is_a_production_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = ROOT / "deploy" / "worker.env.example"
    env = dict(
        line.split("=", 1)
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    )
    env["TRDFLOW_CODEC_KEYS"] = json.dumps({"2026-11": KEY_A})  # the example's is a placeholder
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRDFLOW_STATE_DIR", str(tmp_path))

    check_production(Settings(), env)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://trdflow@db.internal/trdflow?sslmode=verify-full",
        "postgresql://trdflow@db.internal/trdflow?sslmode=verify-ca&sslrootcert=/ca.pem",
        "postgresql://trdflow@/trdflow?host=/var/run/postgresql",
        "postgresql://trdflow@%2Fvar%2Frun%2Fpostgresql/trdflow",
    ],
)
def test_verified_tls_or_a_unix_socket_reaches_postgres_safely(url: str) -> None:
    assert unverified_transport(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://trdflow@db.internal/trdflow",
        "postgresql://trdflow@db.internal/trdflow?sslmode=prefer",
        "postgresql://trdflow@/trdflow",  # no host: asyncpg falls back to localhost over TCP
        "postgresql://trdflow@/trdflow?host=/var/run/postgresql,db.internal",
    ],
)
def test_anything_else_reaches_postgres_unverified(url: str) -> None:
    assert unverified_transport(url) is not None


# Dev key file: refused, in every environment, when weak, duplicated or open to others.


def dev_settings(state_dir: Path, **changes: Any) -> Settings:
    return Settings(**({"state_dir": state_dir, "codec_keys": None} | changes))


def test_production_never_reads_or_creates_the_dev_key_file(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path / "state", environment="production")

    with pytest.raises(CodecError, match="TRDFLOW_CODEC_KEYS is not set"):
        load_keyring(settings)

    assert not settings.state_dir.exists()


def test_the_state_dir_is_created_owner_only(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path / "fresh" / "state")

    load_keyring(settings)

    assert stat.S_IMODE(settings.state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(settings.codec_key_file.stat().st_mode) == 0o600


def test_private_dir_is_exact_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        private_dir(tmp_path / "state")
    finally:
        os.umask(old)

    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


def write_key_file(settings: Settings, keys: dict[str, str], mode: int = 0o600) -> None:
    settings.state_dir.mkdir(mode=0o700)
    settings.codec_key_file.write_text(json.dumps(keys))
    settings.codec_key_file.chmod(mode)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_dev_key_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    settings = dev_settings(tmp_path / "state")
    write_key_file(settings, {"dev-1": KEY_A}, mode)

    with pytest.raises(CodecError) as refused:
        load_keyring(settings)

    assert str(settings.codec_key_file) in str(refused.value)
    assert f"mode {mode:#o}" in str(refused.value)
    assert KEY_A not in str(refused.value)


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_a_dev_key_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path / "state")
    write_key_file(settings, {"dev-1": KEY_A})
    os.chown(settings.codec_key_file, 65534, 65534)

    with pytest.raises(CodecError, match="owned by uid 65534"):
        load_keyring(settings)


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        ({"dev-1": ZERO_KEY}, "codec key 'dev-1' is all zeros"),
        ({"dev-1": KEY_A, "dev-2": KEY_A}, "codec keys 'dev-1' and 'dev-2' are the same key"),
    ],
)
def test_an_all_zero_or_duplicate_key_is_refused_everywhere(
    tmp_path: Path, keys: dict[str, str], reason: str
) -> None:
    from_file = dev_settings(tmp_path / "state")
    write_key_file(from_file, keys)
    from_env = dev_settings(tmp_path, codec_keys={kid: SecretStr(key) for kid, key in keys.items()})

    for settings in (from_file, from_env):
        with pytest.raises(CodecError, match=reason) as refused:
            load_keyring(settings)
        assert [key for key in keys.values() if key in str(refused.value)] == []


def test_the_dev_key_file_still_works(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path / "state")

    assert load_keyring(settings) == load_keyring(settings)


# The Temporal client's connection: the SDK's environment configuration, settings winning.


def test_the_defaults_connect_to_the_local_server_in_plaintext() -> None:
    config = temporal_connect_config(Settings(), {})

    assert config == {"target_host": "localhost:7233", "namespace": "default"}


def test_the_environment_profile_brings_address_namespace_and_api_key() -> None:
    config = temporal_connect_config(Settings(), TEMPORAL_CLOUD)

    assert config["target_host"] == TEMPORAL_CLOUD["TEMPORAL_ADDRESS"]
    assert config["namespace"] == TEMPORAL_CLOUD["TEMPORAL_NAMESPACE"]
    assert config["api_key"] == API_KEY
    assert config["tls"] is True
    assert temporal_transport_problems(config) == []


def test_an_address_and_namespace_set_in_the_settings_win() -> None:
    explicit = Settings(temporal_address="127.0.0.1:7999", temporal_namespace="tests")

    config = temporal_connect_config(explicit, TEMPORAL_CLOUD)

    assert (config["target_host"], config["namespace"]) == ("127.0.0.1:7999", "tests")
    assert config["api_key"] == API_KEY


def test_a_config_file_profile_brings_mtls(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for name, path in files.items():
        path.write_text(f"-----BEGIN {name.upper()}-----\n")
    config_file = tmp_path / "temporal.toml"
    config_file.write_text(
        "[profile.prod]\n"
        'address = "temporal.internal:7233"\n'
        'namespace = "trd-prod"\n'
        "[profile.prod.tls]\n"
        'server_name = "temporal.internal"\n'
        f'server_ca_cert_path = "{files["ca"]}"\n'
        f'client_cert_path = "{files["cert"]}"\n'
        f'client_key_path = "{files["key"]}"\n'
    )
    env = {"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "prod"}

    config = temporal_connect_config(Settings(), env)

    assert (config["target_host"], config["namespace"]) == ("temporal.internal:7233", "trd-prod")
    tls = config["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.domain == "temporal.internal"
    assert tls.server_root_ca_cert == files["ca"].read_bytes()
    assert tls.client_cert == files["cert"].read_bytes()
    assert tls.client_private_key == files["key"].read_bytes()
    assert "api_key" not in config
    assert temporal_transport_problems(config) == []
    check_production(production(tmp_path), env)


def test_a_missing_certificate_file_is_a_configuration_error_not_an_outage(
    tmp_path: Path,
) -> None:
    env = {"TEMPORAL_TLS_CLIENT_CERT_PATH": str(tmp_path / "missing.pem")}

    # A ValueError: a worker waiting for the server does not retry it forever.
    with pytest.raises(TemporalConfigError, match="TEMPORAL_TLS_"):
        temporal_connect_config(Settings(), env)


async def test_production_never_connects_in_plaintext(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{unused_port()}")

    with pytest.raises(TemporalConfigError, match="TEMPORAL_TLS: the Temporal connection is"):
        await connect(production(tmp_path))


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# The processes themselves.


@pytest.mark.parametrize("module", ["api.app", "worker.main", "worker.codec_server"])
def test_a_process_started_in_production_with_nothing_set_exits_listing_what_is_missing(
    tmp_path: Path, module: str
) -> None:
    port = unused_port()
    env = {
        "TRDFLOW_ENV": "production",
        # Only what any process needs: where Python is, and an empty home (no config files).
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "TRDFLOW_API_PORT": str(port),
        "TRDFLOW_CODEC_SERVER_PORT": str(port),
    }

    done = subprocess.run(
        [sys.executable, "-m", module],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    for name in (
        "TRDFLOW_CODEC_KEYS",
        "DATABASE_URL",
        "TEMPORAL_TLS",
        "TEMPORAL_API_KEY",
        "TRDFLOW_PAGER_PROVIDER",
        "TRDFLOW_PUBLIC_URL",
    ):
        assert f"  - {name}:" in done.stderr
    assert "Traceback" not in done.stderr
    assert "started" not in done.stderr  # no server, no worker
    assert list(tmp_path.iterdir()) == []  # no state dir, no dev key or tokens
