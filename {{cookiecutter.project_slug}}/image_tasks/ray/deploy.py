"""The image the manifests under deploy/ run: one kustomize Component names it, by tag until
`publish` pins it by the digest the registry gave (a tag can move to other bytes; a digest
cannot), so `kubectl apply -k deploy/<kind>` deploys exactly what was audited and pushed."""

import itertools

from image_tasks import settings
from image_tasks.state import store

COMPONENT = settings.PROJECT_ROOT / "deploy" / "image" / "kustomization.yaml"


def pin(image: str) -> bool:
    """Point the component at ``image`` (NAME@sha256:...), keeping its comments; False if the
    repository has none."""
    try:
        lines = COMPONENT.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return False
    comments = itertools.takewhile(lambda line: line.startswith("#"), lines)
    name = settings.configured()["image-name"]
    pushed, _, digest = image.partition("@")
    entry = [f"  - name: {name}", *([f"    newName: {pushed}"] if pushed != name else [])]
    body = [
        "apiVersion: kustomize.config.k8s.io/v1alpha1",
        "kind: Component",
        "images:",
        *entry,
        f"    digest: {digest}",
    ]
    store.write(COMPONENT, "\n".join([*comments, *body]) + "\n")
    return True
