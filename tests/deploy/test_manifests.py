"""The deploy manifests (deploy/k8s) against the Kubernetes API's own schemas, strict, with kubernetes-validate
(its bundled schemas: no cluster and no network), and KEDA's ScaledObjects against the schema beside this file
(kubernetes-validate has none for custom resources; the fields are KEDA's reference, cited in it).

Also what the manifests promise each other: every Deployment's selector matches its pod labels, a Service
selects a Deployment, a ScaledObject scales a Deployment and never past the topics' partitions (a consumer group
has at most one active member per partition, so replicas beyond the partition count sit idle).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
KUBERNETES = "1.30"  # the oldest minor the manifests are written for (apps/v1, batch/v1: stable long before)
KEDA = json.loads((Path(__file__).with_name("keda_scaledobject.schema.json")).read_text(encoding="utf-8"))
PARTITIONS = 12  # README: `certwatch kafka ensure-topics --partitions 12`


def _documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                found.append((f"{path.name}:{document['kind']}/{document['metadata']['name']}", document))
    return found


DOCUMENTS = _documents()


def test_there_are_manifests_to_check() -> None:
    kinds = {d["kind"] for _, d in DOCUMENTS}
    assert {"Deployment", "Service", "ConfigMap", "ScaledObject"} <= kinds, kinds


@pytest.mark.parametrize(("where", "document"), DOCUMENTS, ids=[w for w, _ in DOCUMENTS])
def test_each_manifest_is_valid_for_its_schema(where: str, document: dict[str, Any]) -> None:
    if document["apiVersion"].startswith("keda.sh/"):
        jsonschema.validate(document, KEDA)
    else:
        kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_the_validator_catches_a_broken_manifest() -> None:
    """Not a validation that passes by construction: a misspelt field and a wrong type are refused."""
    deployment = next(d for _, d in DOCUMENTS if d["kind"] == "Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["replica"] = broken["spec"].pop("replicas", 1)  # a misspelt field: strict refuses it
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eight thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)
    scaled = json.loads(json.dumps(next(d for _, d in DOCUMENTS if d["kind"] == "ScaledObject")))
    scaled["spec"]["triggers"][0]["metadata"].pop("consumerGroup")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, KEDA)


def _of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in DOCUMENTS if d["kind"] == kind}


def test_selectors_services_and_scalers_refer_to_what_exists() -> None:
    deployments = _of_kind("Deployment")
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
    for name, service in _of_kind("Service").items():
        assert any(
            service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
            for d in deployments.values()
        ), f"Service {name} selects no Deployment"
    for name, scaled in _of_kind("ScaledObject").items():
        spec = scaled["spec"]
        assert spec["scaleTargetRef"]["name"] in deployments, name
        assert spec.get("minReplicaCount", 0) <= spec["maxReplicaCount"] <= PARTITIONS, (
            f"{name}: replicas past the {PARTITIONS} partitions would sit idle"
        )
