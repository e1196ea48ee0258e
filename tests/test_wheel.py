"""A built wheel works on its own: `demo`, `verify` and `query` from an installed wheel, run
outside the source tree, with nothing resolving to the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from support import REPO

# Installing every dependency into a fresh venv takes about 3 minutes here; the fresh venv
# borrows the test venv's installed dependencies instead (a plain path in a .pth file, so the
# test venv's editable-install hook never runs) and gets only the wheel itself installed.
pytestmark = pytest.mark.timeout(240)


def _run(*args: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    return subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh venv holding the wheel built from this checkout."""
    root = tmp_path_factory.mktemp("wheel")
    built = _run(
        sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "-q", "-w", root / "dist", cwd=root
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("newsarchive-*.whl")
    venv.create(root / "venv", with_pip=False)
    bin_dir = root / "venv" / "bin"
    python = bin_dir / "python"
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root)
    borrowed = Path(site.stdout.strip()) / "borrowed-dependencies.pth"
    borrowed.write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    install = _run(
        sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel,
        cwd=root,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    return bin_dir


def test_the_wheel_carries_its_own_files(installed: Path, tmp_path: Path) -> None:
    where = _run(
        installed / "python",
        "-c",
        "import archive, crawler, pipelines; print(archive.__file__, crawler.__file__,"
        " pipelines.__file__)",
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    for module in where.stdout.split():
        assert Path(module).is_relative_to(installed.parent), module
        assert not Path(module).is_relative_to(REPO), module


def test_demo_verify_and_query_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    newsarchive = installed / "newsarchive"
    demo = _run(newsarchive, "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "demo-archive" / "catalog.sqlite").is_file()
    verify = _run(newsarchive, "verify", "--archive-dir", "demo-archive", cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "verified: no problems" in verify.stdout
    query = _run(
        newsarchive, "query", "--archive-dir", "demo-archive", "--search", "Venezuela",
        "--format", "csv", cwd=tmp_path,
    )  # fmt: skip
    assert query.returncode == 0, query.stderr
    assert "/2024/08/13/trump-musk-interview-look-back.html" in query.stdout
