"""What deploy/ holds, read for the tests: the image's Dockerfile, the Compose file and the
Kubernetes manifests, and the commands each of them runs."""

from __future__ import annotations

import json
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from domain.contract import SEARCH_ATTRIBUTES

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def console_scripts() -> dict[str, str]:
    """[project.scripts]: name to `module:function`."""
    scripts: dict[str, str] = PYPROJECT["project"]["scripts"]
    return scripts


def dockerfile_instructions(keyword: str) -> list[str]:
    """The arguments of every `keyword` instruction, continuation lines joined."""
    joined = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    return [
        line.split(None, 1)[1]
        for line in lines
        if line.split(None, 1)[:1] == [keyword] and not line.startswith("#")
    ]


def image_commands() -> list[list[str]]:
    """The image's CMD and ENTRYPOINT, each in exec form (a JSON array)."""
    return [
        json.loads(arguments)
        for kw in ("CMD", "ENTRYPOINT")
        for arguments in dockerfile_instructions(kw)
    ]


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def compose_commands() -> dict[str, list[str]]:
    """The image's services in compose.yaml (those built from deploy/Dockerfile): name to
    command (entrypoint first, if any)."""
    services = yaml_documents(COMPOSE)[0]["services"]
    commands = {}
    for name, service in services.items():
        if not _ours(service):
            continue
        parts: list[str] = []
        for key in ("entrypoint", "command"):
            value = service.get(key)
            parts += shlex.split(value) if isinstance(value, str) else list(value or [])
        commands[name] = parts
    return commands


def _ours(service: dict[str, Any]) -> bool:
    image = str(service.get("image", ""))
    return "build" in service or image.startswith("${TRDFLOW_IMAGE")


def k8s_manifests() -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object under deploy/k8s (kustomization files and Helm values aside)."""
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or "helm" in path.parts:
            continue
        for document in yaml_documents(path):
            yield path, document


def k8s_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    """(object name, container) for every container and init container of a workload."""
    for _path, manifest in k8s_manifests():
        spec = manifest.get("spec", {}).get("template", {}).get("spec", {})
        for key in ("initContainers", "containers"):
            for container in spec.get(key, []):
                yield manifest["metadata"]["name"], container


def k8s_commands() -> dict[str, list[str]]:
    """Container (as `object/container`) to command, for the image's containers."""
    return {
        f"{name}/{container['name']}": [*container.get("command", []), *container.get("args", [])]
        for name, container in k8s_containers()
        if container.get("image", "").startswith("trdflow")
    }


def registered_search_attributes(command: list[str]) -> dict[str, str]:
    """Name to type of a `temporal operator search-attribute create --name N --type T ...`."""
    assert command[:4] == ["temporal", "operator", "search-attribute", "create"], command
    flags = command[4:]
    assert len(flags) % 4 == 0, command
    assert flags[0::4] == ["--name"] * (len(flags) // 4), command
    assert flags[2::4] == ["--type"] * (len(flags) // 4), command
    return dict(zip(flags[1::4], flags[3::4], strict=True))


def contract_search_attributes() -> dict[str, str]:
    """The contract's, in the CLI's spelling of the SDK's enum names (KEYWORD is Keyword)."""
    return {key.name: key.indexed_value_type.name.capitalize() for key in SEARCH_ATTRIBUTES}
