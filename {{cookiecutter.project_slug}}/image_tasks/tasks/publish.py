"""Publish: push the image a clean audit read and passing tests ran on, and only those bytes,
then prove the registry serves them.

The gate is the records (`state.records`), looked up by the image's current ID: an image
rebuilt since its audit or its tests has another ID and no record. The audit must say clean
(not leak, not incomplete) and, when this repository's build task made the image, must have
searched for every password the build mounted; the whole test run must have passed on that ID.

The push is bound to the audited ID, not to a tag (`registry.push`): the engine saves the image
by its ID, every byte is checked against the audited config digest, the blobs are uploaded and
the manifest put by its digest (no tag names it yet), and only then is each release tag pointed
at those manifest bytes and read back. A tag moved locally at any moment changes nothing here,
and no tag is made locally. Registry credentials are the engine's own login; nothing here
prints or passes one.
"""

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from image_tasks import ci_report, settings, validation
from image_tasks.engine.detect import detect
from image_tasks.engine.save import saved_archive
from image_tasks.errors import TaskError
from image_tasks.ray import deploy
from image_tasks.registry import push
from image_tasks.registry.client import Client, Manifest, Reference
from image_tasks.state import records, store

PUBLISHED = store.FOLDER / "published.json"


def publish(
    *, image: str | None = None, engine: str | None = None, tags: Sequence[str] = ()
) -> int:
    """Push the image a clean audit read and passing tests ran on, check the registry serves
    exactly it, pin its digest.

    The image is pushed as IMAGE, or as each --tag."""
    config = settings.load(image, engine)
    chosen = detect(config.engine)
    local_id = chosen.require_image(config.image)
    audit = clean_audit(config.image, local_id)
    passed_tests(config.image, local_id)
    targets = [
        Reference.parse(validation.check_image(tag, what="--tag", allow_tag=True)) for tag in tags
    ] or [Reference.parse(config.image)]
    repositories: dict[str, list[Reference]] = {}
    for target in dict.fromkeys(targets):
        repositories.setdefault(target.name, []).append(target)
    clients = {name: Client(refs[0], chosen.name, push=True) for name, refs in repositories.items()}
    for client in clients.values():  # reachable, with a login it takes: before the long part
        client.has_blob(audit.config_digests[0])
    pushed = []
    with saved_archive(local_id, chosen) as archive, tempfile.TemporaryDirectory() as work:
        ready = push.prepare(archive, audit.config_digests, Path(work))
        for name, references in repositories.items():
            client = clients[name]
            push.upload(client, ready)
            for target in references:
                push.name(client, ready, target.tag)
                manifest = Client(target, chosen.name).manifest()
                check_served(target, manifest, audit, ready.digest)
                print(
                    f"Registry check: {target.tagged} is {manifest.digest}; its image config "
                    f"{', '.join(manifest.config_digests)} is what the audit read, clean, at "
                    f"{audit.audited_at}.",
                    file=sys.stderr,
                )
                pushed.append(
                    {"reference": target.tagged, "image": f"{target.name}@{manifest.digest}"}
                )
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
    audit = on_record(
        image, local_id, records.audits(), "audit", "audited",
        "whose exact bytes a clean audit read",
    )  # fmt: skip
    if audit.verdict == "incomplete":
        raise TaskError(
            f"The audit of {image} ({local_id}) at {audit.audited_at} could not read everything "
            "(a bound stopped it), so it proves nothing about what it did not read and publish "
            f"refuses the image. It said: {audit.summary} Its report names each path, with why; "
            "accept one only with an allow-list entry 'incomplete PATH REASON', then audit again."
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


def on_record(image: str, local_id: str, kept: dict, noun: str, done: str, needs: str):
    """The record of exactly this image ID, or a TaskError that says what is wrong: the image
    was rebuilt since (a record of the same reference names another ID), or it never was."""
    record = kept.get(local_id)
    if record is not None:
        return record
    task = noun.split()[0]
    earlier = [found for found in kept.values() if found.image == image]
    if earlier:
        when = f"{done}_at"
        last = max(earlier, key=lambda found: getattr(found, when))
        raise TaskError(
            f"{image} is {local_id} now, but its last {noun} (at {getattr(last, when)}) was of "
            f"{last.image_id}: the image was rebuilt after it was {done}, and publish pushes "
            f"only an image {needs}. Run `nox -s {task}` on it, then publish again."
        )
    raise TaskError(
        f"{image} ({local_id}) has no {noun} on record here: publish pushes only an image "
        f"{needs}. Run `nox -s {task}`, then publish again."
    )


def passed_tests(image: str, local_id: str) -> records.TestRun:
    """The passing test run of exactly this image, or a TaskError that says which is wrong:
    the tests failed, never ran, or ran on another ID."""
    run = on_record(
        image, local_id, records.tests(), "test run", "tested",
        "whose tests passed on these exact bytes",
    )  # fmt: skip
    if not run.passed:
        raise TaskError(
            f"The tests of {image} ({local_id}) failed at {run.tested_at} ({run.summary}): "
            "publish pushes only an image whose tests passed. Fix what they report, then "
            "build, audit and test again."
        )
    return run


def check_served(reference: Reference, manifest: Manifest, audit, digest: str) -> None:
    """The tag must name the manifest publish put, and every platform image the registry
    serves under it must be one the audit read."""
    if (
        manifest.digest != digest
        or not manifest.config_digests
        or not set(manifest.config_digests) <= set(audit.config_digests)
    ):
        raise TaskError(
            f"The registry now serves {reference.tagged} as {manifest.digest}, with image "
            f"config {', '.join(manifest.config_digests) or 'none'}, which the audit did not "
            f"read ({', '.join(audit.config_digests)}), or not the manifest publish put there "
            f"({digest}): something else pushed to that tag just now. Find out what, then "
            "publish again; nothing is recorded as published."
        )
