"""deploy/k8s: every object valid against the Kubernetes API's schemas (`kubernetes-validate`,
offline, strict: an unknown field fails), the overlay assembled onto the base as kustomize
would for what it uses, and the manifests consistent with the code and with each other.
KEDA's objects are custom resources, outside those schemas: a handwritten schema of the fields
used here checks them (KEDA's own CRD is not vendored)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from domain.contract import ESCALATION_TASK_QUEUE, TASK_QUEUE
from tests.deploy_files import (
    K8S,
    contract_search_attributes,
    k8s_manifests,
    registered_search_attributes,
    yaml_documents,
)
from worker.settings import Settings

BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "production"
KUBERNETES = kubernetes_validate.latest_version()
KEDA = "keda.sh/v1alpha1"
METADATA = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
TEMPORAL_TRIGGER_FIELDS = [
    "endpoint",
    "namespace",
    "taskQueue",
    "queueTypes",
    "targetQueueSize",
    "activationTargetQueueSize",
]


def closed(required: list[str], **properties: Any) -> dict[str, Any]:
    """An object of exactly these properties (JSON Schema)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def custom_resource(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"metadata": METADATA, "spec": spec},
    }


KEDA_SCHEMAS = {
    "ScaledObject": custom_resource(
        closed(
            ["scaleTargetRef", "triggers"],
            scaleTargetRef=METADATA,
            minReplicaCount={"type": "integer", "minimum": 0},
            maxReplicaCount={"type": "integer", "minimum": 1},
            pollingInterval={"type": "integer", "minimum": 1},
            cooldownPeriod={"type": "integer", "minimum": 0},
            triggers={
                "type": "array",
                "minItems": 1,
                "items": closed(
                    ["type", "metadata"],
                    type={"const": "temporal"},
                    authenticationRef=METADATA,
                    metadata={
                        "type": "object",
                        # KEDA reads every value as a string.
                        "additionalProperties": {"type": "string"},
                        "required": ["endpoint", "namespace", "taskQueue"],
                        "propertyNames": {"enum": TEMPORAL_TRIGGER_FIELDS},
                    },
                ),
            },
        )
    ),
    "TriggerAuthentication": custom_resource(
        closed(
            [],
            secretTargetRef={
                "type": "array",
                "items": closed(
                    ["parameter", "name", "key"],
                    parameter={"enum": ["apiKey", "ca", "cert", "key"]},
                    name={"type": "string"},
                    key={"type": "string"},
                ),
            },
        )
    ),
}


def kustomization(folder: Path) -> dict[str, Any]:
    return yaml_documents(folder / "kustomization.yaml")[0]


def objects_in(folder: Path) -> list[dict[str, Any]]:
    return [doc for path, doc in k8s_manifests() if path.parent == folder]


def assembled_overlay() -> list[dict[str, Any]]:
    """The overlay applied onto the base, for what it uses: its namespace, its image and
    strategic-merge patches (maps merged, lists of named items merged by name)."""
    overlay = kustomization(OVERLAY)
    objects: list[dict[str, Any]] = []
    for resource in overlay["resources"]:
        path = (OVERLAY / resource).resolve()
        if path.is_dir():
            objects += copy.deepcopy(objects_in(path))
        else:
            objects += yaml_documents(path)
    for patch_file in overlay["patches"]:
        patch = yaml_documents(OVERLAY / patch_file["path"])[0]
        targets = [o for o in objects if _key(o) == _key(patch)]
        assert len(targets) == 1, f"{patch_file['path']} patches nothing in the base"
        _merge(targets[0], patch)
    image = overlay["images"][0]
    for obj in objects:
        if obj["kind"] != "Namespace":
            obj["metadata"]["namespace"] = overlay["namespace"]
        for container in _containers(obj):
            if container["image"] == image["name"]:
                container["image"] = f"{image['newName']}:{image['newTag']}"
    return objects


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def _merge(into: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
            by_name = {item["name"]: item for item in into.setdefault(key, [])}
            for item in value:
                assert item["name"] in by_name, f"patch adds {item['name']} rather than merging"
                _merge(by_name[item["name"]], item)
        else:
            into[key] = value


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def validate(obj: dict[str, Any]) -> None:
    if obj["apiVersion"] == KEDA:
        jsonschema.validate(obj, KEDA_SCHEMAS[obj["kind"]])
    else:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)


def resources() -> list[dict[str, Any]]:
    """Every object the kustomizations list as a resource (not their patches)."""
    return [
        doc
        for folder in (BASE, OVERLAY)
        for resource in kustomization(folder)["resources"]
        if (folder / resource).is_file()
        for doc in yaml_documents(folder / resource)
    ]


@pytest.mark.parametrize("obj", resources(), ids=lambda d: "/".join(_key(d)))
def test_every_object_is_valid(obj: dict[str, Any]) -> None:
    validate(obj)


def test_the_assembled_overlay_is_valid_and_patched() -> None:
    objects = assembled_overlay()
    for obj in objects:
        validate(obj)
    by_key = {_key(obj): obj for obj in objects}
    worker = _containers(by_key["Deployment", "trdflow-worker"])[0]
    assert worker["resources"]["requests"]["cpu"] == "500m"
    assert worker["image"].startswith("registry.clinic.example/trdflow:")
    assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"  # kept from the base
    assert by_key["ScaledObject", "trdflow-worker"]["spec"]["minReplicaCount"] == 3


def test_validation_refuses_an_unknown_field() -> None:
    worker = copy.deepcopy(next(o for o in objects_in(BASE) if o["kind"] == "Deployment"))
    worker["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(worker)
    scaled = copy.deepcopy(next(o for o in objects_in(BASE) if o["kind"] == "ScaledObject"))
    scaled["spec"]["triggers"][0]["metadata"]["taskqueue"] = TASK_QUEUE
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)


@pytest.mark.parametrize("folder", [BASE, OVERLAY], ids=["base", "overlay"])
def test_each_kustomization_lists_exactly_its_files(folder: Path) -> None:
    listed = kustomization(folder)
    resources = set(listed["resources"]) | {p["path"] for p in listed.get("patches", [])}
    files = {p.name for p in folder.glob("*.yaml")} - {"kustomization.yaml"}
    assert {r for r in resources if not r.startswith("..")} == files
    assert all((folder / r).exists() for r in resources)


def test_every_deployment_is_probed_sized_and_guarded() -> None:
    objects = objects_in(BASE)
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    budgets = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert {d["metadata"]["name"] for d in deployments} == {
        "trdflow-worker",
        "trdflow-api",
        "trdflow-codec",
    }
    for deployment in deployments:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(
            b["spec"]["selector"]["matchLabels"].items() <= labels.items() for b in budgets
        ), deployment["metadata"]["name"]
        for container in _containers(deployment):
            ports = {p["name"] for p in container["ports"]}
            for probe in ("readinessProbe", "livenessProbe"):
                assert container[probe]["httpGet"]["port"] in ports
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys()


def test_the_autoscalers_scale_what_exists() -> None:
    objects = objects_in(BASE)
    deployments = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "trdflow-api"
    scaled = next(o for o in objects if o["kind"] == "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "trdflow-worker" in deployments
    triggers = scaled["spec"]["triggers"]
    assert {t["metadata"]["taskQueue"] for t in triggers} == {TASK_QUEUE, ESCALATION_TASK_QUEUE}
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    assert {t["metadata"]["namespace"] for t in triggers} == {config["TEMPORAL_NAMESPACE"]}
    assert {t["metadata"]["endpoint"] for t in triggers} == {config["TEMPORAL_ADDRESS"]}
    auth = {o["metadata"]["name"] for o in objects if o["kind"] == "TriggerAuthentication"}
    assert {t["authenticationRef"]["name"] for t in triggers} <= auth


def test_a_worker_finishes_its_activities_before_the_kubelet_kills_it() -> None:
    objects = objects_in(BASE)
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    grace = Settings.model_validate(config).worker_shutdown_grace_seconds
    worker = next(o for o in objects if _key(o) == ("Deployment", "trdflow-worker"))
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace


def test_the_contracts_search_attributes_are_registered() -> None:
    job = next(o for o in objects_in(BASE) if _key(o) == ("Job", "trdflow-search-attributes"))
    command = _containers(job)[0]["command"]
    assert registered_search_attributes(command) == contract_search_attributes()


def test_the_helm_values_keep_temporal_in_postgresql() -> None:
    values = yaml_documents(K8S / "helm" / "temporal-values.yaml")[0]
    persistence = values["server"]["config"]["persistence"]
    stores = persistence["datastores"]
    for store in (persistence["defaultStore"], persistence["visibilityStore"]):
        assert stores[store]["sql"]["pluginName"] == "postgres12"
        assert "password" not in stores[store]["sql"]  # from a Secret
    assert not any(values[db]["enabled"] for db in ("cassandra", "mysql", "elasticsearch"))
    namespaces = {n["name"] for n in values["server"]["config"]["namespaces"]["namespace"]}
    config = next(o for o in objects_in(BASE) if o["kind"] == "ConfigMap")["data"]
    assert config["TEMPORAL_NAMESPACE"] in namespaces
