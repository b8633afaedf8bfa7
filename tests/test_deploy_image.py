"""The image (deploy/Dockerfile) and every command the Compose file and the Kubernetes
manifests run in it: each is a console script of pyproject.toml that the installed project
provides. Docker itself is not needed (nor run): the image is built elsewhere."""

from __future__ import annotations

import importlib
from importlib import metadata

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.deploy_files import (
    PYPROJECT,
    compose_commands,
    console_scripts,
    dockerfile_instructions,
    image_commands,
    k8s_commands,
)

EVERY_PROCESS = {"trdflow-worker", "trdflow-api", "trdflow-codec-server", "trdflow"}


def named_commands() -> dict[str, list[str]]:
    return {
        **{f"Dockerfile {' '.join(c)}": c for c in image_commands()},
        **{f"compose {name}": c for name, c in compose_commands().items()},
        **{f"k8s {name}": c for name, c in k8s_commands().items()},
    }


@pytest.mark.parametrize("script", sorted(console_scripts()))
def test_every_console_script_is_installed_and_callable(script: str) -> None:
    installed = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert installed.get(script) == console_scripts()[script], "run `make venv`"
    module, function = console_scripts()[script].split(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_every_command_of_the_image_is_a_console_script() -> None:
    commands = named_commands()
    unknown = {where: c for where, c in commands.items() if c[:1] and c[0] not in console_scripts()}
    assert unknown == {}
    # Each process has a container somewhere, and none relies on the image's default silently.
    assert {c[0] for c in commands.values() if c} >= EVERY_PROCESS


def test_the_trdflow_commands_named_exist() -> None:
    """`trdflow db migrate` and any other CLI command a container runs."""
    subcommands = {tuple(c[1:]) for c in named_commands().values() if c[:1] == ["trdflow"]}
    assert ("db", "migrate") in subcommands
    for words in subcommands:
        result = CliRunner().invoke(app, [*words, "--help"])
        assert result.exit_code == 0, (words, result.output)


def test_the_image_installs_every_package_from_the_lock_as_non_root() -> None:
    copied = {line.split()[0].rstrip("/") for line in dockerfile_instructions("COPY")}
    top_level = {package.split(".")[0] for package in PYPROJECT["tool"]["setuptools"]["packages"]}
    assert top_level <= copied
    runs = " ".join(dockerfile_instructions("RUN"))
    assert "--require-hashes --no-deps -r requirements.lock" in runs
    assert "--no-index ." in runs
    assert dockerfile_instructions("USER")[-1].split(":")[0] not in ("0", "root")
    assert len(dockerfile_instructions("FROM")) >= 2  # the build's tools stay behind
