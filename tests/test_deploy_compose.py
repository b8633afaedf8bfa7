"""deploy/compose.yaml: valid against the Compose Specification's JSON Schema (vendored in
deploy/schemas/), and consistent with the contract and with itself. Docker is not run."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from tests.deploy_files import (
    COMPOSE,
    DEPLOY,
    compose_commands,
    contract_search_attributes,
    registered_search_attributes,
    yaml_documents,
)

SCHEMA = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text())
ONE_SHOTS = {"temporal-setup", "migrate"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml_documents(COMPOSE)[0]


def test_the_compose_file_is_valid_against_the_compose_specification(
    compose: dict[str, Any],
) -> None:
    validator = jsonschema.Draft7Validator(SCHEMA)
    assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)] == []


def test_the_schema_refuses_what_compose_refuses(compose: dict[str, Any]) -> None:
    """The vendored schema is the real one: it catches a misspelt key."""
    broken = {**compose, "services": {"worker": {**compose["services"]["worker"], "comand": []}}}
    assert not jsonschema.Draft7Validator(SCHEMA).is_valid(broken)


def test_the_contracts_search_attributes_are_registered(compose: dict[str, Any]) -> None:
    command = compose["services"]["temporal-setup"]["command"]
    assert registered_search_attributes(command) == contract_search_attributes()


def test_temporal_keeps_persistence_and_visibility_in_postgresql(compose: dict[str, Any]) -> None:
    temporal = compose["services"]["temporal"]
    assert temporal["environment"]["DB"] == "postgres12"  # SQL visibility with it
    assert temporal["environment"]["POSTGRES_SEEDS"] in compose["services"]
    for volume in temporal["volumes"]:
        source = volume.split(":")[0]
        assert (DEPLOY / source).is_file(), volume


def test_every_service_is_health_checked_and_waited_for(compose: dict[str, Any]) -> None:
    services = compose["services"]
    unchecked = [n for n, s in services.items() if n not in ONE_SHOTS and "healthcheck" not in s]
    assert unchecked == []
    for name, service in services.items():
        for needed, condition in service.get("depends_on", {}).items():
            wanted = condition["condition"]
            assert needed in services, (name, needed)
            if wanted == "service_healthy":
                assert "healthcheck" in services[needed], (name, needed)
            if wanted == "service_completed_successfully":
                assert needed in ONE_SHOTS, (name, needed)


def test_the_ui_asks_the_codec_server_with_the_operators_token(compose: dict[str, Any]) -> None:
    services = compose["services"]
    ui = services["temporal-ui"]["environment"]
    codec_port = services["codec"]["ports"][0].rsplit(":", 1)[1]
    assert ui["TEMPORAL_CODEC_ENDPOINT"].rstrip("}").endswith(f":{codec_port}")
    assert ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true"
    ui_port = services["temporal-ui"]["ports"][0].rsplit(":", 1)[1]
    assert services["codec"]["environment"]["TRDFLOW_UI_ORIGIN"].rstrip("}").endswith(ui_port)


def test_the_projects_services_share_one_keyring_and_run_its_processes() -> None:
    commands = compose_commands()
    assert sorted(c[0] for c in commands.values()) == [
        "trdflow",
        "trdflow-api",
        "trdflow-codec-server",
        "trdflow-worker",
    ]
    services = yaml_documents(COMPOSE)[0]["services"]
    for name in commands:
        assert "TRDFLOW_CODEC_KEYS" in services[name]["environment"], name
