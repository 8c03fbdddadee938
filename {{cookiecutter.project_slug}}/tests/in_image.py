"""Scripts the tests run with the image's own Python (passed with -c); standard library only."""

# Import every top-level module of the named distributions; print one line per module.
IMPORT_DISTRIBUTIONS = """
import importlib, importlib.metadata as md, sys

def modules(name):
    dist = md.distribution(name)
    top = (dist.read_text("top_level.txt") or "").split()
    if not top:
        for f in dist.files or ():
            head = f.parts[0]
            if head.endswith((".dist-info", ".data")) or head in ("..", "__pycache__", "bin"):
                continue
            top.append(head[:-3] if head.endswith(".py") else head)
    return sorted(set(top))

for name in sys.argv[1:]:
    for module in modules(name):
        importlib.import_module(module)
        print(name, module)
"""

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
