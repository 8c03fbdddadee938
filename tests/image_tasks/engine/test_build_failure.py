"""The failed step, read from each engine's output as it prints it (captured from real builds of
a Dockerfile whose own RUN line fails after the install step)."""

from image_tasks.engine.build_failure import failed_step

BUILDX = """#5 [2/3] RUN --mount=type=secret,id=netrc,required=true echo installing
#5 0.111 installing
#5 DONE 0.5s

#6 [3/3] RUN cp missing.txt /opt/
#6 0.131 cp: cannot stat 'missing.txt': No such file or directory
#6 ERROR: executor failed running [/bin/sh -c cp missing.txt /opt/]: exit code: 1
------
 > [3/3] RUN cp missing.txt /opt/:
0.131 cp: cannot stat 'missing.txt': No such file or directory
------
ERROR: failed to solve: executor failed running [/bin/sh -c cp missing.txt /opt/]: exit code: 1
"""
DOCKER_20 = """#5 [2/3] RUN --mount=type=secret,id=netrc,required=true echo installing
#5 sha256:85f312b83dd6005319b467ef7951f4e75be9971cf31bde127adb14753cf8fe6a
#5 CACHED

#6 [3/3] RUN cp missing.txt /opt/
#6 sha256:dfd163063f5d95ba69e33cd0ff3af46dab376c169df491813224e58942dc733c
#6 0.096 cp: cannot stat 'missing.txt': No such file or directory
#6 ERROR: executor failed running [/bin/sh -c cp missing.txt /opt/]: exit code: 1
------
 > [3/3] RUN cp missing.txt /opt/:
------
executor failed running [/bin/sh -c cp missing.txt /opt/]: exit code: 1
"""
PODMAN = """STEP 1/3: FROM local/python:3.11-bookworm
STEP 2/3: RUN --mount=type=secret,id=netrc,required=true echo installing
installing
--> f938211cbd6
STEP 3/3: RUN cp missing.txt /opt/
cp: cannot stat 'missing.txt': No such file or directory
Error: building at STEP "RUN cp missing.txt /opt/": while running runtime: exit status 1
"""


def test_each_engine_s_output_names_the_step_and_what_it_said():
    for output in (BUILDX, DOCKER_20, PODMAN):
        step = failed_step(output)
        assert step.instruction == "RUN cp missing.txt /opt/"
        assert step.said == "cp: cannot stat 'missing.txt': No such file or directory"
        assert not step.installs


INSTALL_FAILED = {
    "buildx": """#5 [2/3] RUN --mount=type=secret,id=netrc,required=true pip install acme==9
#5 1.021 ERROR: No matching distribution found for acme==9
#5 ERROR: process "/bin/sh -c pip install acme==9" did not complete successfully: exit code: 1
""",
    "podman": """STEP 2/3: RUN --mount=type=secret,id=netrc,required=true pip install acme==9
ERROR: No matching distribution found for acme==9
Error: building at STEP "RUN --mount=type=secret,id=netrc,required=true pip install acme==9": \
while running runtime: exit status 1
""",
}


def test_the_install_step_is_told_apart():
    for output in INSTALL_FAILED.values():
        step = failed_step(output)
        assert step.installs
        assert step.said == "ERROR: No matching distribution found for acme==9"


def test_output_that_names_no_step():
    assert failed_step("ERROR: failed to solve: something else\n") is None
    assert failed_step("") is None
