"""Publish: push the image a clean audit read, and only it, then prove the registry serves it.

The gate is the audit's record (`audit_records`): the config digest of the bytes the audit
read. The image to push must have that digest now (an image rebuilt since has another), and
the record must say clean. After each push, the manifest is read back from the registry
(`registry`) and every platform image in it must have an audited, clean config digest. The
pushed image is then printed and recorded by digest, and the deploy manifests are pinned to it.
Registry credentials are the engine's own login; nothing here prints or passes one.
"""

import sys
from collections.abc import Sequence

from image_tasks import audit_records, deploy_image, engines, registry, settings, state, validation
from image_tasks.errors import TaskError

PUBLISHED = state.FOLDER / "published.json"


def publish(
    *, image: str | None = None, engine: str | None = None, tags: Sequence[str] = ()
) -> int:
    """Push the audited image (as IMAGE, or as each --tag), check the registry's copy, pin it."""
    config = settings.load(image, engine)
    chosen = engines.detect(config.engine)
    local_id = chosen.require_image(config.image)
    record = clean_record(config.image, local_id)
    source = registry.Reference.parse(config.image)
    targets = [
        registry.Reference.parse(validation.check_image(tag, what="--tag", allow_tag=True))
        for tag in tags
    ] or [source]
    pushed = []
    for target in dict.fromkeys(targets):
        if target != source:
            _run(chosen, chosen.tag_argv(config.image, target.tagged), f"tag it {target.tagged}")
        push = chosen.push_argv(target.tagged, plain_http=target.base_url.startswith("http:"))
        _run(chosen, push, f"push {target.tagged}")
        manifest = registry.Client(target, chosen.name).manifest()
        check_served(target, manifest, local_id)
        print(
            f"Registry check: {target.tagged} is {manifest.digest}; its image config "
            f"{local_id} is the one audited clean at {record.audited_at}.",
            file=sys.stderr,
        )
        pushed.append({"reference": target.tagged, "image": f"{target.name}@{manifest.digest}"})
    first = pushed[0]["image"]
    state.write_json(
        PUBLISHED,
        {"image": first, "pushed": pushed, "config_digest": local_id, "audit": record.summary()},
    )
    if deploy_image.pin(first):
        print(f"deploy/ now runs it ({deploy_image.COMPONENT}); commit that.", file=sys.stderr)
    print(first)
    return 0


def clean_record(image: str, local_id: str) -> audit_records.Record:
    """The clean audit of exactly this image, or a TaskError that says what to run."""
    records = audit_records.load()
    record = records.get(local_id)
    if record is None:
        earlier = [r for r in records.values() if r.image == image]
        if earlier:
            last = max(earlier, key=lambda r: r.audited_at)
            raise TaskError(
                f"{image} is {local_id} now, but its last audit (at {last.audited_at}) read "
                f"{last.config_digest}: the image was rebuilt after it was audited, and publish "
                "pushes only bytes a clean audit read. Run `nox -s audit` (and `nox -s test`), "
                "then publish again."
            )
        raise TaskError(
            f"{image} ({local_id}) has no audit on record here: publish pushes only an image "
            "whose exact bytes a clean audit read. Run `nox -s audit`, then publish again."
        )
    if not record.clean:
        raise TaskError(
            f"The audit of {image} ({local_id}) at {record.audited_at} found leaked "
            "credentials, so publish refuses it. Fix the Dockerfile as the audit's report says, "
            "rotate the leaked credential, rebuild with `nox -s build -- --no-cache`, and audit "
            "again."
        )
    return record


def check_served(reference: registry.Reference, manifest: registry.Manifest, audited: str) -> None:
    """Every platform image the registry serves under the tag must be an audited, clean one."""
    records = audit_records.load()
    unaudited = [
        digest
        for digest in manifest.config_digests
        if not (digest == audited or (digest in records and records[digest].clean))
    ]
    if unaudited or audited not in manifest.config_digests:
        raise TaskError(
            f"The registry serves {reference.tagged} as {manifest.digest}, with "
            f"image config {', '.join(manifest.config_digests) or 'none'}, which is not the "
            f"audited {audited}: something else was pushed to that tag, or the registry "
            "rewrote the image. Nothing is recorded as published; check who else pushes there."
        )


def _run(engine: engines.Engine, argv: list[str], what: str) -> None:
    status, _ = engines.stream(engine, argv)
    if status in (130, -2):
        raise KeyboardInterrupt
    if status != 0:
        raise TaskError(
            f"Could not {what} ({engine.program} exited with {status}); its output above says "
            f"why. 'unauthorized', 'denied' or 'authentication required' mean the engine is not "
            f"logged in to that registry with push access: `{engine.program} login REGISTRY` "
            "(in CI, docker/login-action)."
        )
