"""What a wheel of crm-ports carries and does, as a user who installs it (not editable)
meets it: the types (`py.typed`), the built-in catalogue and the schemas, the project's
pages, the extras; the commands of its help run from any folder; and the documentation
installs it from this repository, since PyPI has no crm-ports."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.readme import pages

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
WHEEL_NAME = f"crm_ports-{PROJECT['version']}-py3-none-any.whl"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel` builds from this checkout (docs/installing.md's command)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    built = out / WHEEL_NAME
    assert built.is_file(), sorted(p.name for p in out.iterdir())
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed (its dependencies are this interpreter's) in a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), wheel],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return target


@pytest.mark.slow
def test_the_wheel_ships_types_catalogue_and_schemas(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(
            archive.read(f"crm_ports-{PROJECT['version']}.dist-info/METADATA").decode()
        )
    assert "crm_ports/py.typed" in names  # else mypy --strict skips crm_ports in a user's app
    catalogue = {f"crm_ports/catalog/{p.name}" for p in (REPO / "catalog").glob("*.yaml")}
    schemas = {f"crm_ports/schema/{p.name}" for p in (REPO / "crm_ports" / "schema").iterdir()}
    assert catalogue and catalogue <= names
    assert schemas and schemas <= names
    assert not [n for n in names if n.startswith(("tests/", "labs/", "docs/"))]
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert set(urls) >= {"Homepage", "Documentation"}
    for page in urls.values():  # relative to the repository until it has a public address
        assert (REPO / page.split("#", 1)[0]).is_file(), page
    extras = [r for r in metadata.get_all("Requires-Dist") or [] if "extra == 'cdktn'" in r]
    assert extras == ["cdktn<0.27,>=0.24.0; extra == 'cdktn'"], extras


def _run(installed: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run(
        [sys.executable, "-m", "crm_ports", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_the_help_examples_run_from_any_folder(installed: Path, tmp_path: Path) -> None:
    """The installed package, not this checkout (no `catalog/` beside it): `validate
    catalog/`, the help's example, failed in any other folder. The help's examples that
    name no file or git ref of the user's run in an empty folder."""
    found = subprocess.run(
        [sys.executable, "-c", "import crm_ports; print(crm_ports.__file__)"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.startswith(str(installed)), found.stdout
    examples = []
    for command in ([], ["validate"]):
        help_text = _run(installed, tmp_path, *command, "--help").stdout
        for line in help_text.split("Examples:", 1)[1].splitlines():
            example = line.split("#", 1)[0].strip()
            names_a_users_file = re.search(r"labs/|my-|\.out|\.yaml|origin/", line)
            if example.startswith("crm-ports ") and not names_a_users_file:
                examples.append(example)
    assert "crm-ports validate" in examples
    for example in examples:
        done = _run(installed, tmp_path, *shlex.split(example)[1:])
        assert done.returncode == 0, (example, done.stderr)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_mypy_strict_reads_the_types_of_crm_ports(tmp_path: Path) -> None:
    """A user's app type-checked with `mypy --strict`: without `py.typed` mypy refused the
    import ("missing library stubs or py.typed marker") and checked nothing of it."""
    (tmp_path / "app.py").write_text(
        "from crm_ports.options import Options\n\nname: int = Options().topology\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / ".c"), "app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "py.typed" not in done.stdout, done.stdout
    assert 'Incompatible types in assignment (expression has type "str"' in done.stdout


def test_the_docs_install_crm_ports_from_this_repository() -> None:
    """PyPI has no crm-ports: every `pip install` of it in the README and docs/ installs
    this checkout (`-e`, for working on it), the wheel it builds (by its current name), a
    clone or a git address; none asks PyPI for `crm-ports[...]`, which is not there."""
    found = []
    for page in pages():
        for line in page.read_text(encoding="utf-8").splitlines():
            for command in re.findall(r"pip install [^`#\n]*", line):
                if "crm-ports" in command or "crm_ports" in command or " -e " in command:
                    found.append((page.name, command.strip()))
    assert found
    forms = (" -e ", WHEEL_NAME, "] @ git+", "'./crm-ports[")
    for page, command in found:
        assert any(form in command for form in forms), (page, command)
