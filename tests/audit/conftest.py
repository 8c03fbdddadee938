"""Run every audit test twice: with the optional accelerators (hyperscan, isal) and with the
standard library alone, which must give the same results.  (pyproject's pythonpath makes the
template's image_tasks and these tests' builders importable.)"""

import zlib

import pytest


@pytest.fixture(autouse=True, params=["accelerated", "stdlib"])
def engines(request, monkeypatch):
    from baking import need
    from image_tasks.audit.detect import search
    from image_tasks.audit.image import compression

    if request.param == "stdlib":
        monkeypatch.setattr(search, "engine", search.StdlibEngine)
        monkeypatch.setattr(compression, "gzip_inflate", zlib)
    else:
        need(compression.gzip_inflate is not zlib, "the isal wheel is not installed")
        need(search.engine([search.Term("needle", 0, b"x")]).name == "hyperscan",
             "the hyperscan wheel is not installed")  # fmt: skip
    return request.param
