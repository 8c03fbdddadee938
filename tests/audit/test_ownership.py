"""Ownership-aware scoping: a package-tree file gets the package policy only when a package
manager owns it (dist-info RECORD, dpkg .list, conda-meta), in its layer or a lower one."""

from __future__ import annotations

import json

from audit_builders import Image, docker_oci, layer, write
from image_tasks import audit
from image_tasks.audit import Limits
from test_rules import record

SITE = "usr/local/lib/python3.11/site-packages"
PLANTED = b"machine nexus.corp login ci password Qw9zLx7Tp2Vb\n"  # netrc text, no canary
EXAMPLE = b"# e.g. https://someone:Qw9zLx7Tp2Vb@pypi.example/simple\n"


def audited(tmp_path, *layers, **kwargs):
    return audit.run(write(tmp_path, docker_oci(Image(layers=list(layers)))), **kwargs)


def found(report) -> set[tuple[str, str]]:
    return {(f.rule, f.path) for f in report.findings}


def test_planted_netrc_under_site_packages_is_found_without_a_canary(tmp_path):
    owned = (f"{SITE}/pkg/docs.py", EXAMPLE)
    planted = (f"{SITE}/pkg/settings.txt", PLANTED)
    report = audited(tmp_path, layer(owned, planted, record(SITE, "pkg-1.0", [owned])))
    assert found(report) == {("netrc-entry", f"/{planted[0]}")}


def test_record_after_the_files_in_the_stream(tmp_path):
    files = [(f"{SITE}/pkg/m{i}.py", EXAMPLE) for i in range(3)]
    rec = record(SITE, "pkg-1.0", files)
    assert audited(tmp_path, layer(*files, rec)).findings == []  # record last
    assert audited(tmp_path, layer(rec, *files)).findings == []  # record first
    # in a lower layer, as pip in an earlier RUN step
    assert audited(tmp_path, layer(rec), layer(*files)).findings == []
    # a record in a higher layer owns nothing below it
    report = audited(tmp_path, layer(*files), layer(rec))
    assert {rule for rule, _ in found(report)} == {"url-credentials"}


def test_records_settle_files_read_by_other_worker_processes(tmp_path):
    # every blob is scanned in a worker process: the record's layer in one, the files' in
    # another; the keys they send must agree
    files = [(f"{SITE}/pkg/m{i}.py", EXAMPLE) for i in range(3)]
    rec = record(SITE, "pkg-1.0", files)
    limits = Limits(parallel_bytes=1, workers=2)
    assert audited(tmp_path, layer(rec), layer(*files), limits=limits).findings == []
    report = audited(tmp_path, layer(*files), layer(rec), limits=limits)
    assert {rule for rule, _ in found(report)} == {"url-credentials"}


def test_owned_file_modified_after_install_is_a_finding(tmp_path):
    original = (f"{SITE}/pkg/docs.py", EXAMPLE)
    rec = record(SITE, "pkg-1.0", [original])
    bigger = (original[0], EXAMPLE + PLANTED)  # another size
    report = audited(tmp_path, layer(original, rec), layer(bigger))
    assert found(report) == {
        ("package-file-modified", f"/{original[0]}"),
        ("netrc-entry", f"/{original[0]}"),
        ("url-credentials", f"/{original[0]}"),
    }
    assert report.findings[0].layer == 1
    same_size = (original[0], EXAMPLE.replace(b"someone", b"Someone"))  # same size, other hash
    report = audited(tmp_path, layer(original, rec), layer(same_size))
    assert ("package-file-modified", f"/{original[0]}") in found(report)
    message = next(f.message for f in report.findings if f.rule == "package-file-modified")
    assert "sha256" in message


def test_owned_file_that_differs_from_its_own_layers_record_is_a_finding(tmp_path):
    # settled where the layer is read (its own record), record before and after the file
    original = (f"{SITE}/pkg/docs.py", EXAMPLE)
    rec = record(SITE, "pkg-1.0", [original])
    bigger = (original[0], EXAMPLE + PLANTED)
    for files in ((bigger, rec), (rec, bigger)):
        report = audited(tmp_path, layer(*files))
        assert found(report) == {
            ("package-file-modified", f"/{original[0]}"),
            ("netrc-entry", f"/{original[0]}"),
            ("url-credentials", f"/{original[0]}"),
        }
        assert {f.layer for f in report.findings} == {0}
        assert all(f.layer_digest for f in report.findings)


def test_record_deleted_by_a_later_layer_owns_nothing_after(tmp_path):
    files = [(f"{SITE}/pkg/docs.py", EXAMPLE)]
    rec = record(SITE, "pkg-1.0", files)
    gone = (f"{SITE}/.wh.pkg-1.0.dist-info", b"")
    report = audited(tmp_path, layer(rec), layer(gone), layer(*files))
    assert {rule for rule, _ in found(report)} == {"url-credentials"}


def test_dpkg_list_owns_files_under_usr_share_doc(tmp_path):
    doc = ("usr/share/doc/libfoo/examples.txt", EXAMPLE)
    planted = ("usr/share/doc/libfoo/notes.txt", PLANTED)
    listing = ("var/lib/dpkg/info/libfoo.list", b"/.\n/usr/share/doc/libfoo\n/" + doc[0].encode())
    report = audited(tmp_path, layer(doc, planted, listing))
    assert found(report) == {("netrc-entry", f"/{planted[0]}")}


def test_conda_meta_owns_files_of_its_environment(tmp_path):
    prefix = "opt/conda"
    source = (f"{prefix}/lib/python3.11/site-packages/lib/docs.py", EXAMPLE)
    meta = {"name": "lib", "files": ["lib/python3.11/site-packages/lib/docs.py"]}
    conda = (f"{prefix}/conda-meta/lib-1.0-0.json", json.dumps(meta).encode())
    assert audited(tmp_path, layer(source, conda)).findings == []
    assert {r for r, _ in found(audited(tmp_path, layer(source)))} == {"url-credentials"}


def test_canaries_and_token_rules_apply_to_owned_files_too(tmp_path):
    token = "ghp_" + "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4"
    owned = (f"{SITE}/pkg/config.py", f"T = '{token}'  # Qw9zLx7Tp2VbX\n".encode())
    report = audited(
        tmp_path, layer(owned, record(SITE, "pkg-1.0", [owned])), canaries=["Qw9zLx7Tp2VbX"]
    )
    assert {rule for rule, _ in found(report)} == {"github-token", "canary"}


def test_policy_is_stated_in_the_report_and_the_docs(tmp_path):
    report = audited(tmp_path, layer(("etc/a", b"a")))
    assert "RECORD" in report.policy["pattern_rules_scope"]
    from image_tasks.audit import rules
    from image_tasks.audit.detect import ownership

    assert "a package manager owns" in rules.__doc__
    assert "RECORD" in ownership.__doc__


def test_a_text_file_named_like_byte_code_is_not_lost(tmp_path):
    planted = (f"{SITE}/pkg/__pycache__/settings.cpython-311.pyc", PLANTED)
    report = audited(tmp_path, layer(planted))
    assert found(report) == {("netrc-entry", f"/{planted[0]}")}


def test_dist_packages_owned_by_dpkg_or_by_a_record(tmp_path):
    dist = "usr/lib/python3/dist-packages"
    by_dpkg = (f"{dist}/requests/docs.py", EXAMPLE)
    by_pip = (f"{dist}/extra/docs.py", EXAMPLE)
    planted = (f"{dist}/requests/settings.cfg", PLANTED)
    listing = ("var/lib/dpkg/info/python3-requests.list", f"/{by_dpkg[0]}\n".encode())
    report = audited(
        tmp_path, layer(by_dpkg, by_pip, planted, listing, record(dist, "extra-1", [by_pip]))
    )
    assert found(report) == {("netrc-entry", f"/{planted[0]}")}
