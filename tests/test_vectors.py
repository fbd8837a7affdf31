"""Vendored third-party data is what its provenance README says it is: every listed file, with its SHA-256."""

from __future__ import annotations

import hashlib
import re

import pytest
from helpers import PACK_DIR, REPO

PROVENANCE = [REPO / "tests" / "vectors" / "README.md", PACK_DIR / "sources" / "README.md"]
ROW = re.compile(r"^\| `(?P<file>[^`]+)` \|.*\| `(?P<sha256>[0-9a-f]{64})` \|$", re.MULTILINE)


@pytest.mark.parametrize("readme", PROVENANCE, ids=lambda path: str(path.relative_to(REPO)))
def test_every_vendored_file_is_listed_with_its_sha256(readme):
    listed = {match["file"]: match["sha256"] for match in ROW.finditer(readme.read_text())}
    on_disk = {
        str(path.relative_to(readme.parent))
        for path in readme.parent.rglob("*")
        if path.is_file() and path.name != "README.md"
    }
    assert listed and set(listed) == on_disk  # nothing vendored without provenance, nothing listed that is gone
    for name, digest in listed.items():
        assert hashlib.sha256((readme.parent / name).read_bytes()).hexdigest() == digest, name


def test_nothing_reads_outside_the_checkout():
    """No code, test or build file names the reference folder beside the checkout."""
    beside = re.compile(r"\.\./shared|[\"']shared[\"']|parents\[2\]")
    tracked = [
        path
        for pattern in ("service/**/*.py", "tests/**/*.py", "Makefile", ".ci/run", "pyproject.toml", "Dockerfile")
        for path in REPO.glob(pattern)
        if path.is_file() and path.name != "test_vectors.py"
    ]
    offenders = [str(path.relative_to(REPO)) for path in tracked if beside.search(path.read_text())]
    assert tracked and not offenders
