"""What the baked repository tells a newcomer is true of what it does, and each failure names its
own cause: real engines, the real password-protected index."""

import re
import subprocess
import sys

import pytest
from baking import tool
from harness import engine_env, run, tag, wrong_netrc
from image_tasks.engine.detect import NAMES as ENGINES


@pytest.fixture
def image():
    """A local image reference for one test, removed after it."""
    reference = tag("firstday")
    yield reference
    subprocess.run(["docker", "image", "rm", "-f", reference], capture_output=True, check=False)


@pytest.mark.engine
def test_no_index_check_with_a_cached_install_step_asks_nothing(
    baked_e2e, local_index, image, tmp_path
):
    """docs/tasks.md says so: with --no-index-check, an install step the engine takes from its
    cache asks the index nothing, so a wrong password still builds (the README used to promise
    that the install step checks again)."""
    repository = baked_e2e()
    docs = " ".join((repository / "docs/tasks.md").read_text().split())
    assert "(a cached install step asks the index nothing)" in docs
    env = engine_env("buildx", IMAGE=image, NETRC=str(local_index[1]))
    status, output, _ = run([tool("nox"), "-s", "build"], cwd=repository, env=env)
    assert status == 0, output[-3000:]

    env["NETRC"] = str(wrong_netrc(local_index, tmp_path))
    argv = [tool("nox"), "-s", "build", "--", "--no-index-check"]
    status, output, _ = run(argv, cwd=repository, env=env)
    assert status == 0, output[-3000:]
    install = re.search(r"^#(\d+) \[[^\]]+\] RUN --mount=type=secret", output, re.M)
    assert install and re.search(rf"^#{install[1]} CACHED$", output, re.M), output[-3000:]


def build(repository, env, *options: str):
    return run([tool("nox"), "-s", "build", "--", *options], cwd=repository, env=env)


@pytest.mark.engine
def test_a_typo_in_the_index_path_is_not_blamed_on_the_package(baked_e2e, local_index, image):
    """The index is asked at its own URL when a project is missing: no index page there means
    the path is wrong, on the host and inside the build alike."""
    repository = baked_e2e()
    url, netrc, _ = local_index
    typo = url.replace("/simple/", "/simpel/")
    env = engine_env("buildx", IMAGE=image, NETRC=str(netrc), PRIVATE_INDEX_URL=typo)
    said = (  # pypiserver sends /simpel/ to /simple/simpel/ (its origin: followed), then 404
        f"the index URL's path is wrong: 127.0.0.1 answered HTTP 404 for {typo} itself, not "
        "only for 'acme-sauce'. Check the private index URL (private-index-url in "
        "pyproject.toml, or PRIVATE_INDEX_URL)"
    )
    for options in ((), ("--no-index-check", "--no-cache")):
        status, output, _ = build(repository, env, *options)
        assert status != 0 and said in " ".join(output.split()), output[-3000:]
        assert "is not on the index" not in output and "Traceback" not in output


@pytest.mark.engine
@pytest.mark.parametrize("engine", ENGINES)
def test_a_failure_in_the_users_own_step_is_not_blamed_on_the_index(
    engine, baked_e2e, local_index, image
):
    """A RUN line of the team's own after the install step fails: the message names that step
    and what it said, read from the engine's output, and says nothing of the index."""
    repository = baked_e2e()
    dockerfile = repository / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\nRUN cp missing.txt /opt/\n")
    env = engine_env(engine, IMAGE=image, NETRC=str(local_index[1]))
    status, output, _ = build(repository, env)
    assert status != 0
    assert (
        "The build failed in the Dockerfile's step `RUN cp missing.txt /opt/`, not in the "
        "install from the private index: it said \"cp: cannot stat 'missing.txt': No such file "
        'or directory". Fix that step; its whole output is above.'
    ) in " ".join(output.split()), output[-3000:]
    assert "No matching distribution" not in output.split("The build failed")[-1]


@pytest.mark.engine
def test_a_version_the_index_lacks_is_named_by_the_lock(baked_e2e, local_index):
    """Since the lock, a version the index lacks stops `nox -s lock`, before any build, with
    the resolver's reason, and leaves the lock as it was."""
    repository = baked_e2e(locked=False, private_packages="acme-sauce==9.9.9")
    lock_file = repository / "requirements.txt"  # (a bake writes none: `nox -s lock` does)
    argv = [sys.executable, "-m", "image_tasks", "lock"]
    env = engine_env("buildx", NETRC=str(local_index[1]))
    status, output, _ = run(argv, cwd=repository, env=env)
    said = " ".join(output.split())
    assert status != 0
    assert "there is no version of acme-sauce==9.9.9" in said, output[-3000:]
    assert "Nothing was written." in said and not lock_file.exists()
    assert local_index[2] not in output


@pytest.mark.engine
@pytest.mark.parametrize(
    ("entry", "missing"),
    [
        ("machine 127.0.0.1\nlogin local\n", "password"),
        ('machine 127.0.0.1\nlogin local\npassword ""\n', "password"),
        ("machine 127.0.0.1\npassword {password}\n", "login"),
    ],
    ids=["no-password", "empty-password", "no-login"],
)
def test_a_netrc_entry_missing_a_field_says_which(baked_e2e, local_index, tmp_path, entry, missing):
    repository = baked_e2e()
    netrc = tmp_path / "netrc"
    netrc.write_text(entry.replace("{password}", local_index[2]))
    netrc.chmod(0o600)
    env = engine_env("buildx", NETRC=str(netrc))
    for options in ((), ("--no-index-check", "--no-cache")):
        status, output, _ = build(repository, env, *options)
        assert status != 0
        assert f"the netrc entry has no {missing} for 127.0.0.1" in output, output[-3000:]
        assert "wrong or expired" not in output and local_index[2] not in output


@pytest.fixture(scope="module")
def base_without_wget(provisioned, tmp_path_factory):
    """The ray-like base image with wget taken out (as some slim Ray bases ship), for this run."""
    reference = tag("firstday-no-wget", "2.60.0-py311")
    context = tmp_path_factory.mktemp("no-wget")
    (context / "Dockerfile").write_text(
        f"FROM {provisioned['RAYRT_RAY_IMAGE']}\nUSER 0:0\n"
        'RUN rm -f "$(command -v wget)"\nUSER 1000:100\n'
    )
    subprocess.run(
        ["docker", "build", "--network=host", "-t", reference, str(context)],
        check=True, capture_output=True, env=engine_env("buildx"),
    )  # fmt: skip
    yield reference
    subprocess.run(["docker", "image", "rm", "-f", reference], capture_output=True, check=False)


@pytest.mark.engine
def test_tests_on_a_base_without_wget_end_with_what_is_missing(
    baked_e2e, local_index, base_without_wget, image
):
    repository = baked_e2e(base_image=base_without_wget)
    env = engine_env("buildx", IMAGE=image, NETRC=str(local_index[1]))
    status, output, _ = run([tool("nox"), "-s", "build", "test"], cwd=repository, env=env)
    assert status != 0
    tests = output.split("Running session test", 1)[1]
    summary = " ".join(tests.split("The image lacks", 1)[-1].split())
    assert summary.startswith(
        'wget: KubeRay\'s exec probes run `bash -c "wget ... | grep success"` (every Ray '
        "before 2.53, and a RayService worker's Serve check on any Ray). Add it to the "
        "Dockerfile (as root: apt-get install -y --no-install-recommends wget) or build on a "
        "rayproject/ray base, which has it."
    ), tests[-3000:]
    # pytest's own lines, at most 30 (was 50 before the summary), after nox's venv lines and
    # before the record of the result that publish reads
    pytest_lines = tests.split("test session starts", 1)[1].split("Recorded:", 1)[0]
    assert len(pytest_lines.splitlines()) < 30, tests
    # pytest's last words before its count: after its own short summary
    assert tests.index("short test summary info") < tests.index("The image lacks wget:")
    assert "Traceback" not in tests and "AssertionError" not in tests


@pytest.mark.engine
def test_the_tasks_from_a_folder_below_the_top(baked_e2e, local_index, image):
    """The README says where the tasks run; invoke's search, and nox given its file, work from
    deploy/ as from the top."""
    repository = baked_e2e()
    readme = " ".join((repository / "README.md").read_text().split())
    assert (
        "Run the tasks from the top folder (below it: `invoke TASK`, or `nox -f ../noxfile.py`)"
    ) in readme
    env = engine_env("buildx", IMAGE=image, NETRC=str(local_index[1]))
    for argv in ([tool("invoke"), "build"], [tool("nox"), "-f", "../noxfile.py", "-s", "build"]):
        status, output, _ = run(argv, cwd=repository / "deploy", env=env)
        assert status == 0, output[-3000:]
        assert "Index check: 127.0.0.1 serves acme-sauce" in output
