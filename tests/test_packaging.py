"""What pip users get: build the sdist and the wheel, install the wheel into a clean venv, import it.

About 12 s on 2 cores (most of it importing torch in the new venv), so it runs with the other tests.

The venv gets the wheel only (``--no-deps``); torch and the other dependencies come from the
environment running the tests (``--system-site-packages``, plus a ``.pth`` pointing at this
environment's site-packages when it is itself a venv), so nothing is downloaded or reinstalled.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import site
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "resnetzoo"

# Package data the wheel must ship besides the modules, as globs over the wheel's paths. The data
# sample is required once resnetzoo.data exists: resnetzoo.data.sample_cifar10 reads it.
REQUIRED_IN_WHEEL = ["resnetzoo/py.typed"]
if (PACKAGE / "data").is_dir():
    REQUIRED_IN_WHEEL.append("resnetzoo/data/_sample/*")

REQUIRED_IN_SDIST = [
    "pyproject.toml",
    "README.md",
    "CHANGELOG.md",
    "hubconf.py",
    "resnetzoo/__init__.py",
    "tests/test_public_api.py",
    "tests/api_snapshot.json",
    "docs/conf.py",
    "docs/_ext/resnetzoo_tables.py",
    "docs/index.md",
]


def _source_files() -> list[str]:
    """Every file of the package in the source tree, as wheel paths ("resnetzoo/models/resnet.py")."""
    return sorted(
        path.relative_to(REPO).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def _clean_env() -> dict[str, str]:
    # Without PYTHONPATH, so the source tree cannot stand in for the installed wheel.
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: build with the hatchling installed here (the dev extra) instead of
    # downloading one; the wheel is built from the sdist, so a file missing there fails here too.
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        env=_clean_env(),
    )
    assert result.returncode == 0, f"python -m build failed:\n{result.stdout}\n{result.stderr}"
    (sdist,) = out.glob("resnetzoo-*.tar.gz")
    (wheel,) = out.glob("resnetzoo-*.whl")
    return sdist, wheel


def _wheel_version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def test_wheel_contains_every_module_and_the_package_data(dists):
    _, wheel = dists
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = f"resnetzoo-{_wheel_version(wheel)}.dist-info"
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    missing = [f for f in _source_files() if f not in names]
    assert not missing, f"source files missing from the wheel: {missing}"
    for pattern in REQUIRED_IN_WHEEL:
        assert fnmatch.filter(names, pattern), f"the wheel has nothing matching {pattern!r}"
    junk = [n for n in names if "__pycache__" in n or n.endswith(".pyc") or not n.startswith("resnetzoo")]
    assert not junk, f"the wheel should hold only the package and its metadata, found {junk}"
    assert "[console_scripts]\nresnetzoo = resnetzoo.cli:main" in entry_points


def test_sdist_contains_what_the_tests_and_docs_need(dists):
    sdist, wheel = dists
    root = sdist.name.removesuffix(".tar.gz")
    with tarfile.open(sdist) as tf:
        names = {n.removeprefix(f"{root}/") for n in tf.getnames()}
    missing = [f for f in REQUIRED_IN_SDIST if f not in names]
    assert not missing, f"missing from the sdist: {missing}"
    built = [n for n in names if n.startswith(("docs/_build", ".venv", "dist/")) or "__pycache__" in n]
    assert not built, f"build outputs leaked into the sdist: {built[:5]}"
    assert root == f"resnetzoo-{_wheel_version(wheel)}"


def test_wheel_installs_into_a_clean_venv_and_imports(dists, tmp_path):
    _, wheel = dists
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True
    )
    python = venv / "bin" / "python"
    (purelib,) = (venv / "lib").glob("python3*/site-packages")
    if sys.prefix != sys.base_prefix:
        # This environment is a venv: --system-site-packages sees the base interpreter's packages,
        # not this venv's, where torch is. A path line (not an import line) adds the directories
        # without running their .pth files, so an editable resnetzoo there stays invisible.
        (purelib / "_parent_env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        env=_clean_env(),
    )
    probe = (
        "import json, importlib.resources, resnetzoo as rz\n"
        "print(json.dumps({'file': rz.__file__, 'version': rz.__version__,\n"
        "    'py_typed': importlib.resources.files('resnetzoo').joinpath('py.typed').is_file(),\n"
        "    'params': rz.count_parameters(rz.resnet20_cifar())}))\n"
    )
    out = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, check=True
    )
    info = json.loads(out.stdout)
    assert Path(info["file"]).is_relative_to(purelib), f"imported {info['file']}, not the installed wheel"
    assert info["version"] == _wheel_version(wheel)
    assert info["py_typed"] is True
    assert info["params"] == 269_722
    cli = subprocess.run(
        [str(venv / "bin" / "resnetzoo"), "--version"], env=_clean_env(), capture_output=True, text=True
    )
    assert cli.stdout.strip() == f"resnetzoo {_wheel_version(wheel)}"
    listed = subprocess.run(
        [str(venv / "bin" / "resnetzoo"), "list", "resnet20*"],
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "resnet20_cifar" in listed.stdout.split()


def test_a_release_version_has_its_changelog_section():
    """A version without .dev is a release: CHANGELOG.md describes it, dated, below [Unreleased]."""
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    changelog = (REPO / "CHANGELOG.md").read_text()
    if ".dev" in version:
        pytest.skip(f"{version} is a development version")
    sections = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", changelog, flags=re.MULTILINE)
    assert sections[0] == ("Unreleased", ""), "the newest section is [Unreleased]"
    assert (version, sections[1][1]) == sections[1], f"the section after [Unreleased] is [{version}] - DATE"


def test_ci_runs_the_tests_as_the_readme_says():
    """README's test command is the one .ci/run runs (pytest-xdist's options included), and the dev
    extra installs what it needs."""
    readme = (REPO / "README.md").read_text()
    (command,) = re.findall(r"^\.venv/bin/python -m pytest.*$", readme, flags=re.MULTILINE)
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert command in ci, f"README's {command!r} is not a line of .ci/run"
    if " -n " in command:
        dev = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
        assert any(requirement.startswith("pytest-xdist") for requirement in dev)
