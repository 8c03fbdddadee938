"""Scripts the tests run with the image's own Python (passed with -c); standard library only."""

from image_tasks import settings

# The smoke job (deploy/app/runtime_check.py): its top_level_modules is the one module finder.
RUNTIME_CHECK = (settings.PROJECT_ROOT / "deploy" / "app" / "runtime_check.py").read_text("utf-8")

# Import every top-level module of the distributions named after the smoke job's source (argv[1]),
# found by its top_level_modules; print one "DISTRIBUTION MODULE" line a module.
IMPORT_DISTRIBUTIONS = """
import importlib, importlib.metadata, sys, types

check = types.ModuleType("runtime_check")
exec(compile(sys.argv[1], "runtime_check.py", "exec"), check.__dict__)
for name in sys.argv[2:]:
    for module in check.top_level_modules(importlib.metadata.distribution(name)):
        importlib.import_module(module)
        print(name, module)
"""


def imported_modules(run, distributions: list[str]) -> list[tuple[str, str]]:
    """(distribution, module) for every top-level module of the distributions, each imported in
    the image; run is the conftest fixture."""
    output = run("python3", "-c", IMPORT_DISTRIBUTIONS, RUNTIME_CHECK, *distributions)
    return [tuple(line.split()) for line in output.splitlines()]


# Start Ray, import each module inside a remote task (as a Ray worker would), print the results.
RAY_REMOTE_IMPORT = """
import importlib, sys, ray

ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)

@ray.remote
def load(module):
    return importlib.import_module(module).__name__

print(" ".join(ray.get([load.remote(m) for m in sys.argv[1:]])))
ray.shutdown()
"""

# Walk the whole filesystem for credential files by name, and anything under /run/secrets.
FIND_CREDENTIAL_FILES = """
import os

NAMES = {".netrc", "_netrc", ".pypirc", ".git-credentials", "credentials.json", ".npmrc"}
SKIP = {"/proc", "/sys", "/dev"}
found = []
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in SKIP]
    for name in files:
        path = os.path.join(root, name)
        if name in NAMES or path.startswith("/run/secrets/"):
            found.append(path)
        elif name in ("pip.conf", "pip.ini", "uv.toml"):
            try:
                text = open(path, errors="replace").read()
            except OSError:
                continue
            if "@" in text or "password" in text:
                found.append(path)
print("\\n".join(found))
"""

# Start a Ray head as KubeRay does, then run KubeRay v1.7.0's own probes against it: for Ray
# 2.53+ an httpGet of the dashboard agent's /api/healthz (the kubelet sends it, so only the
# port must answer); for older Ray, and for a RayService worker's Serve check on any Ray, an
# exec probe of `bash -c "wget ... | grep success"`, so bash, wget and grep must be in the image.
# Prints one "NAME RESULT" line a check.
KUBERAY_PROBES = """
import json, shutil, subprocess, sys, time, urllib.request

def get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except OSError as error:
        return None, str(error)

for tool in ("bash", "wget", "grep"):
    print("tool-" + tool, "present" if shutil.which(tool) else "MISSING")
start = subprocess.run(
    ["ray", "start", "--head", "--num-cpus=1", "--disable-usage-stats"],
    capture_output=True, text=True,
)
failure = start.stderr[-2000:].replace("\\n", " | ") if start.returncode else ""
print("ray-start", start.returncode, failure)
deadline = time.monotonic() + 90
while time.monotonic() < deadline and get("http://127.0.0.1:52365/api/healthz")[0] != 200:
    time.sleep(1)
print("http-probe", get("http://127.0.0.1:52365/api/healthz")[0])
status, body = get("http://127.0.0.1:8265/api/version")
print("job-server", json.loads(body).get("ray_version") if status == 200 else None)
wget = "wget --tries 1 -T {} -q -O- http://localhost:{}/{} | grep success"
head_probe = " && ".join(
    (wget.format(2, 52365, "api/local_raylet_healthz"), wget.format(10, 8265, "api/gcs_healthz"))
)
print("exec-probe", subprocess.run(["bash", "-c", head_probe], capture_output=True).returncode)
"""  # no `ray stop`: the container ends with this process, and Ray with it
