"""Publish: push the image a clean audit read, and only it, then prove the registry serves it.

The gate is the audit's record (`state.records`), looked up by the image's current ID: an image
rebuilt since its audit has another ID and no record. The record must say clean, and, when
this repository's build task made the image, the audit must have searched for every password
the build mounted. Each target is tagged from the audited ID itself and checked again right
before its push, so a build running meanwhile cannot slip other bytes in. After each push the
manifest is read back from the registry (`registry.client`) and every platform image in it must be
one the audit read. The pushed image is then printed and recorded by digest, and the deploy
manifests are pinned to it. Registry credentials are the engine's own login; nothing here
prints or passes one.
"""

import sys
from collections.abc import Sequence

from image_tasks import ci_report, settings, validation
from image_tasks.engine.commands import Engine, stream
from image_tasks.engine.detect import detect
from image_tasks.errors import TaskError
from image_tasks.ray import deploy
from image_tasks.registry.client import Client, Manifest, Reference
from image_tasks.state import records, store

PUBLISHED = store.FOLDER / "published.json"


def publish(
    *, image: str | None = None, engine: str | None = None, tags: Sequence[str] = ()
) -> int:
    """Push the image a clean audit read, check the registry serves exactly it, pin its digest.

    The image is pushed as IMAGE, or as each --tag."""
    config = settings.load(image, engine)
    chosen = detect(config.engine)
    local_id = chosen.require_image(config.image)
    audit = clean_audit(config.image, local_id)
    source = Reference.parse(config.image)
    targets = [
        Reference.parse(validation.check_image(tag, what="--tag", allow_tag=True)) for tag in tags
    ] or [source]
    pushed = []
    for target in dict.fromkeys(targets):
        if target != source:
            _run(chosen, chosen.tag_argv(local_id, target.tagged), f"tag it {target.tagged}")
        if chosen.image_id(target.tagged) != local_id:
            raise TaskError(
                f"{target.tagged} no longer names the audited image {local_id}: something "
                "rebuilt or retagged it just now. Nothing more was pushed; audit what it names "
                "now, then publish again."
            )
        push = chosen.push_argv(target.tagged, plain_http=target.base_url.startswith("http:"))
        _run(chosen, push, f"push {target.tagged}")
        manifest = Client(target, chosen.name).manifest()
        check_served(target, manifest, audit)
        print(
            f"Registry check: {target.tagged} is {manifest.digest}; its image config "
            f"{', '.join(manifest.config_digests)} is what the audit read, clean, at "
            f"{audit.audited_at}.",
            file=sys.stderr,
        )
        pushed.append({"reference": target.tagged, "image": f"{target.name}@{manifest.digest}"})
    first = pushed[0]["image"]
    store.write_json(
        PUBLISHED,
        {"image": first, "pushed": pushed, "image_id": local_id, "audit": audit.essentials()},
    )
    if deploy.pin(first):
        print(f"deploy/ now runs it ({deploy.COMPONENT}); commit that.", file=sys.stderr)
    ci_report.output("image", first)
    ci_report.summary(
        f"**Published:** `{first}` (audited clean at {audit.audited_at}).\n\n"
        f"To deploy it, pin `deploy/` to it in a checkout and commit that: "
        f"`nox -s pin -- {first}`"
    )
    print(first)
    return 0


def clean_audit(image: str, local_id: str) -> records.Audit:
    """The clean audit of exactly this image, of the credential it was built with, or a
    TaskError that says what to run."""
    audits = records.audits()
    audit = audits.get(local_id)
    if audit is None:
        earlier = [a for a in audits.values() if a.image == image]
        if earlier:
            last = max(earlier, key=lambda a: a.audited_at)
            raise TaskError(
                f"{image} is {local_id} now, but its last audit (at {last.audited_at}) read "
                f"{last.image_id}: the image was rebuilt after it was audited, and publish "
                "pushes only bytes a clean audit read. Run `nox -s audit` (and `nox -s test`), "
                "then publish again."
            )
        raise TaskError(
            f"{image} ({local_id}) has no audit on record here: publish pushes only an image "
            "whose exact bytes a clean audit read. Run `nox -s audit`, then publish again."
        )
    if not audit.clean:
        raise TaskError(
            f"The audit of {image} ({local_id}) at {audit.audited_at} found leaked "
            "credentials, so publish refuses it. Fix the Dockerfile as the audit's report says, "
            "rotate the leaked credential, rebuild with `nox -s build -- --no-cache`, and audit "
            "again."
        )
    build = records.builds().get(local_id)
    if build is not None and not set(build.secrets) <= set(audit.secrets):
        raise TaskError(
            f"{image} was built with a credential its audit did not search for (the build and "
            "the audit were given different netrcs), so a clean verdict says nothing about the "
            "password that was mounted. Audit it with the netrc the build used (the same "
            "--netrc, NETRC or NET_RC), then publish again."
        )
    return audit


def check_served(reference: Reference, manifest: Manifest, audit) -> None:
    """Every platform image the registry serves under the tag must be one the audit read."""
    if not manifest.config_digests or not set(manifest.config_digests) <= set(audit.config_digests):
        raise TaskError(
            f"The registry now serves {reference.tagged} as {manifest.digest}, with image "
            f"config {', '.join(manifest.config_digests) or 'none'}, which the audit did not "
            f"read ({', '.join(audit.config_digests)}): that tag serves unaudited bytes. "
            "Overwrite or delete it now, and find out what else pushes there; nothing is "
            "recorded as published."
        )


def _run(engine: Engine, argv: list[str], what: str) -> None:
    status, _ = stream(engine, argv)
    if status in (130, -2):
        raise KeyboardInterrupt
    if status != 0:
        raise TaskError(
            f"Could not {what} ({engine.program} exited with {status}); its output above says "
            f"why. 'unauthorized', 'denied' or 'authentication required' mean the engine is not "
            f"logged in to that registry with push access: `{engine.program} login REGISTRY` "
            "(in CI, docker/login-action)."
        )
