"""The image the manifests under deploy/ run: one kustomize Component names it, by tag until
`publish` pins it by the digest the registry gave (a tag can move to other bytes; a digest
cannot), so `kubectl apply -k deploy/<kind>` deploys exactly what was audited and pushed."""

from image_tasks import settings, state

COMPONENT = settings.PROJECT_ROOT / "deploy" / "image" / "kustomization.yaml"
HEADER = """\
# The image every manifest under deploy/ runs. `nox -s publish` rewrites this file after a
# verified push, pinning the image by digest; commit the change to deploy what was published.
"""


def pin(image: str) -> bool:
    """Point the component at ``image`` (NAME@sha256:...); False if the repository has none."""
    if not COMPONENT.is_file():
        return False
    name = settings.configured()["image-name"]
    pushed, _, digest = image.partition("@")
    lines = [
        HEADER.rstrip("\n"),
        "apiVersion: kustomize.config.k8s.io/v1alpha1",
        "kind: Component",
        "images:",
        f"  - name: {name}",
        *([f"    newName: {pushed}"] if pushed != name else []),
        f"    digest: {digest}",
    ]
    state.write(COMPONENT, "\n".join(lines) + "\n")
    return True
