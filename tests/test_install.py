"""A plain install (no extras) in a fresh venv runs the commands the CLI offers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv

import pytest
from conftest import ROOT

from arbedb import __version__

# What `pip install <checkout>` reads: the package and its metadata. A copy, so the build
# leaves nothing in the working tree and cannot race another session's.
SOURCE = ("pyproject.toml", "README.md", "tooling")


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory):
    """`pip install .` (no extras) into a new venv; returns its bin/ folder.

    The venv gets no pip of its own: this interpreter's pip installs into it (``--python``),
    without byte-compiling, so the cost is the install itself (~20 s, from the pip cache).
    """
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    for part in SOURCE:
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, src / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(ROOT / part, src / part)
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install",
                           "--quiet", "--no-compile", "--disable-pip-version-check", str(src)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return env_dir / "bin"


def _run(bindir, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(bindir / "arbedb"), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def test_no_test_extra_was_installed(plain_install):
    freeze = subprocess.run([sys.executable, "-m", "pip", "--python", str(plain_install / "python"), "list",
                             "--format", "freeze"], capture_output=True, text=True, check=True).stdout.lower()
    assert "hypothesis==" in freeze  # a runtime dependency: rls-test needs it
    assert "pgrls==" in freeze and "junitparser==" in freeze  # verify runs pgrls; --junit writes JUnit XML
    assert "pytest==" not in freeze


def test_help_and_version(plain_install):
    helped = _run(plain_install, "--help")
    assert helped.returncode == 0 and "rls-test" in helped.stdout, helped.stderr
    version = _run(plain_install, "--version")
    assert (version.returncode, version.stdout) == (0, f"arbedb {__version__}\n"), version.stderr


def test_rls_test_runs(plain_install, arbedb_dsn):
    proc = _run(plain_install, "rls-test", "--dsn", arbedb_dsn, "--examples", "5")
    assert proc.returncode == 0, proc.stderr
    assert "5 worlds, database and model agree" in proc.stdout
