"""Package trees: where installed third-party code lives (the package-tree policy, see the
package docstring)."""

from __future__ import annotations

import re

# Package trees (see the module docstring for the policy).
PACKAGE_TREE = re.compile(
    r"(?:^|/)(?:site|dist)-packages/|(?:^|/)node_modules/"
    r"|(?:^|/)lib/python\d[\d.]*/(?!site-packages/|dist-packages/)"
    r"|^usr/share/(?:doc|man|info|locale)/"
    r"|(?:^|/)(?:ana|mini)?conda\d?/pkgs/|^opt/conda/pkgs/"
)
INSTALLER_SUFFIXES = (".dist-info/direct_url.json", ".pth", ".egg-link")


def in_package_tree(path: str) -> bool:
    """Is ``path`` (normalised, no leading '/') inside installed third-party code?"""
    if "-packages/" in path or "node_modules/" in path:
        slashed = "/" + path
        packaged = (
            "/site-packages/" in slashed
            or "/dist-packages/" in slashed
            or "/node_modules/" in slashed
        )
    elif "lib/python" in path or "pkgs/" in path:
        packaged = PACKAGE_TREE.search(path) is not None
    elif path.startswith("usr/share/"):
        packaged = path[10:].startswith(("doc/", "man/", "info/", "locale/"))
    else:
        return False
    return packaged and not path.endswith(INSTALLER_SUFFIXES)
