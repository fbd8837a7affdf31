"""The wheel is the product: built from this checkout and installed into a throwaway venv, `aza-cds` finds its
knowledge pack inside the package and serves from a directory outside the checkout, without AZA_CDS_KNOWLEDGE_DIR.

Offline: the wheel is built without build isolation, and the venv borrows the test environment's dependencies
through a path file (the dependencies are not what is tested; the package and its data are)."""

from __future__ import annotations

import os
import shutil
import site
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile

import httpx
import pytest
from helpers import REPO

pytestmark = pytest.mark.xdist_group("wheel")  # one worker builds and installs the wheel once for all these tests
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", "fixtures"
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv with only the aza-cds wheel installed into it; returns (its bin folder, the wheel)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=NOT_SOURCES)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(
        [*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", "-w", work / "dist", source],
        check=True,
        capture_output=True,
    )
    (wheel,) = (work / "dist").glob("aza_cds-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    subprocess.run(
        [*pip, "--python", venv / "bin" / "python", "install", "--quiet", "--no-deps", "--no-index", wheel],
        check=True,
        capture_output=True,
    )
    purelib = subprocess.run(
        [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    (venv / purelib.removeprefix(str(venv) + "/") / "borrowed-dependencies.pth").write_text("\n".join(borrowed) + "\n")
    return venv / "bin", wheel


@pytest.fixture
def elsewhere(tmp_path):
    """A working directory outside the checkout, and an environment that names no knowledge pack."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AZA_CDS_", "PROMETHEUS"))}
    return folder, environment | {"AZA_CDS_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": ""}


def test_the_wheel_carries_the_knowledge_pack(installed):
    _bin, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    pack = {name.removeprefix("service/cards/") for name in names if name.startswith("service/cards/")}
    shipped = {str(path.relative_to(REPO / "cards")) for path in (REPO / "cards").rglob("*") if path.is_file()}
    assert shipped and pack == shipped


def test_installed_knowledge_check_runs_from_any_directory(installed, elsewhere):
    bin_folder, _wheel = installed
    folder, environment = elsewhere
    where = subprocess.run(
        [bin_folder / "python", "-c", "import service.config as c; print(c.__file__, c.EMBEDDED_PACK)"],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(path.startswith(str(bin_folder.parent)) for path in where), where  # the wheel's copy, not the checkout
    check = subprocess.run(
        [bin_folder / "aza-cds", "knowledge", "check"], cwd=folder, env=environment, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "is valid: " in check.stdout


def test_installed_service_answers_readyz_from_any_directory(installed, elsewhere):
    bin_folder, _wheel = installed
    folder, environment = elsewhere
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [bin_folder / "aza-cds", "serve", "--dev", "--port", str(port), "--workers", "1"],
        cwd=folder,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "the installed aza-cds did not start"
                time.sleep(0.1)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["knowledge_pack"].startswith("aza-cds-azathioprine ")
    finally:
        server.terminate()
        server.wait(timeout=15)


def locked_pins() -> dict[str, tuple[str, int]]:
    """requirements.lock: canonical name -> (pinned version, number of hashes)."""
    from packaging.utils import canonicalize_name

    pins: dict[str, tuple[str, int]] = {}
    name = None
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(" ")[0].split("==")
            pins[canonicalize_name(name)] = (version, 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = pins[canonicalize_name(name)]
            pins[canonicalize_name(name)] = (version, hashes + 1)
    return pins


def test_the_lock_pins_every_runtime_dependency_within_its_range_with_hashes():
    import tomllib
    from importlib.metadata import requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = locked_pins()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(text) for text in project["dependencies"]]
    for extra_of in [requirement for requirement in wanted if requirement.extras]:  # psycopg[binary], pyjwt[crypto]
        for text in requires(extra_of.name) or ():
            needed = Requirement(text)
            if needed.marker and any(needed.marker.evaluate({"extra": extra}) for extra in extra_of.extras):
                wanted.append(Requirement(str(needed).split(";")[0]))
    for requirement in wanted:
        version, hashes = pins.get(canonicalize_name(requirement.name), (None, 0))
        assert version and requirement.specifier.contains(version, prereleases=True), (requirement, version)
        assert hashes >= 1, requirement.name
    assert all(hashes >= 1 for _version, hashes in pins.values())
    assert "matplotlib" in pins  # the image draws the monitoring timeline


def test_the_image_installs_the_wheel_and_the_hashed_lock():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.lock" in dockerfile
    assert "pip install --no-cache-dir --no-deps /tmp/dist/aza_cds-*.whl" in dockerfile
    assert "AZA_CDS_KNOWLEDGE_DIR" not in dockerfile  # the pack comes inside the wheel


def test_the_kubernetes_example_runs_hardened():
    """Issue 13 (8): non-root, read-only root filesystem, no privilege escalation, no capabilities, metrics apart."""
    manifest = (REPO / "deploy" / "kubernetes.yaml").read_text()
    for setting in ("runAsNonRoot: true", "readOnlyRootFilesystem: true", "allowPrivilegeEscalation: false",
                    'capabilities: {drop: ["ALL"]}', "seccompProfile: {type: RuntimeDefault}",
                    "name: AZA_CDS_PUBLIC_URL", "name: AZA_CDS_METRICS_PORT"):  # fmt: skip
        assert setting in manifest, setting
