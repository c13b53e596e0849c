"""The two installs: ``pip install .`` is the field laptop, without any of the server's
dependencies; ``pip install '.[server]'`` adds the server (make demo and make test use it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER_ONLY = ("sqlalchemy", "flask_sqlalchemy", "flask_migrate", "psycopg", "gunicorn", "fpdf",
               "segno", "apispec", "faker")


def _copy_sources(target: Path) -> Path:
    """The project as a source tree of its own (building in the repository would leave files)."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    for package in ("shared", "server", "field_client"):
        shutil.copytree(ROOT / package, target / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX virtualenv layout")
def test_the_plain_install_is_a_working_field_client_without_the_server(tmp_path: Path) -> None:
    source = _copy_sources(tmp_path / "src")
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "--quiet", str(source)], check=True,
                   capture_output=True, timeout=600)

    found = subprocess.run(
        [str(bin_dir / "python"), "-c",
         "import importlib.util, sys; "
         f"print(','.join(m for m in {SERVER_ONLY!r} if importlib.util.find_spec(m)))"],
        check=True, capture_output=True, text=True)
    assert found.stdout.strip() == "", f"server dependencies in the plain install: {found.stdout}"

    helped = subprocess.run([str(bin_dir / "jemput-field"), "--help"], capture_output=True,
                            text=True, timeout=60)
    assert helped.returncode == 0 and "jemput-field" in helped.stdout
    status = subprocess.run([str(bin_dir / "jemput-field"), "--home", str(tmp_path / "home"),
                             "status"], capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert "belum terdaftar" in status.stdout
    web_app = subprocess.run(
        [str(bin_dir / "python"), "-c",
         "from field_client.ui import create_app; print(type(create_app).__name__)"],
        capture_output=True, text=True, timeout=60)
    assert web_app.returncode == 0, web_app.stderr

    server = subprocess.run([str(bin_dir / "jemput-server"), "--help"], capture_output=True,
                            text=True, timeout=60)
    assert server.returncode == 1
    assert "pip install 'jemput[server]'" in server.stderr
