"""The parse cache (`crm_ports.inputs.cache`): a hit gives the same values without parsing, an
edited file is never served stale, a broken or racing entry is only a miss, and a warm
simple command loads neither ruamel nor jsonschema."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from crm_ports.catalogue.load import load_catalogue
from crm_ports.catalogue.model import Catalogue
from crm_ports.errors import InputError
from crm_ports.inputs import cache, yamlio
from crm_ports.lab.file import load_lab

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    target = tmp_path / "cache"
    monkeypatch.setenv("CRM_PORTS_CACHE_DIR", str(target))
    monkeypatch.delenv("CRM_PORTS_CACHE", raising=False)
    yield target


def _no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(content: bytes, name: str) -> yamlio.Document:
        raise AssertionError(f"{name} parsed although cached")

    monkeypatch.setattr(yamlio, "parse_bytes", refuse)


def test_hit_returns_equal_catalogue_without_parsing(
    folder: Path, catalogue_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_catalogue(catalogue_copy)
    assert len(list(folder.glob("catalogue-*.pickle"))) == 1
    _no_parsing(monkeypatch)
    second = load_catalogue(catalogue_copy)
    assert second == first and second is not first
    assert [s.location for s in second.services] == [s.location for s in first.services]


def test_edited_file_is_a_new_entry(folder: Path, catalogue_copy: Path) -> None:
    before = load_catalogue(catalogue_copy)
    services = catalogue_copy / "services.yaml"
    text = services.read_text(encoding="utf-8")
    assert "Default Web application port." in text
    services.write_text(text.replace("Default Web application port.", "Edited."), "utf-8")
    after = load_catalogue(catalogue_copy)
    assert after != before
    assert next(s for s in after.services if s.id == "crm-http").explanation.startswith("Edited.")
    assert len(list(folder.glob("catalogue-*.pickle"))) == 2


def test_bad_input_is_never_cached(folder: Path, catalogue_copy: Path) -> None:
    roles = catalogue_copy / "roles.yaml"
    roles.write_text(roles.read_text(encoding="utf-8") + "  - {id: Bad Id}\n", "utf-8")
    for _ in range(2):
        with pytest.raises(InputError) as caught:
            load_catalogue(catalogue_copy)
        assert "roles.yaml" in str(caught.value)
    assert not list(folder.glob("*.pickle"))


def test_broken_entry_is_a_miss(folder: Path, catalogue_copy: Path) -> None:
    expected = load_catalogue(catalogue_copy)
    (entry,) = folder.glob("catalogue-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert load_catalogue(catalogue_copy) == expected
    entry.write_bytes(b"")
    assert load_catalogue(catalogue_copy) == expected


def test_entry_of_another_type_is_a_miss(folder: Path, catalogue_copy: Path) -> None:
    expected = load_catalogue(catalogue_copy)
    (entry,) = folder.glob("catalogue-*.pickle")
    entry.write_bytes(__import__("pickle").dumps({"not": "a catalogue"}))
    assert load_catalogue(catalogue_copy) == expected


def test_off_writes_nothing(
    tmp_path: Path, catalogue_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_PORTS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CRM_PORTS_CACHE", "off")
    load_catalogue(catalogue_copy)
    assert not (tmp_path / "cache").exists()


def test_default_location_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_PORTS_CACHE_DIR", raising=False)
    monkeypatch.delenv("CRM_PORTS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "crm-ports"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "crm-ports"


def test_pruned_to_the_newest_entries(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "KEEP", 3)
    for i in range(6):
        assert cache.cached("lab", [("x", str(i).encode())], int, lambda i=i: i) == i
    assert len(list(folder.glob("lab-*.pickle"))) == 3
    assert not list(folder.glob(".*.tmp"))


def test_lab_file_cached_and_invalidated(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: cached-lab\noptions: {auth: claims}\n", "utf-8")
    first = load_lab(lab)
    with monkeypatch.context() as patch:
        _no_parsing(patch)
        assert load_lab(lab) == first
    lab.write_text("name: cached-lab\noptions: {auth: iwa}\n", "utf-8")
    assert load_lab(lab).options.auth == "iwa"


def _load_in_child(path: str) -> str:
    return repr(load_catalogue(Path(path)))


def test_racing_processes_agree(folder: Path, catalogue_copy: Path) -> None:
    """Processes filling one cold entry at once all get the same catalogue and leave one
    whole entry behind, no temporary files."""
    with ProcessPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_load_in_child, [str(catalogue_copy)] * 8))
    assert len(set(results)) == 1
    assert len(list(folder.glob("catalogue-*.pickle"))) == 1
    assert not list(folder.glob(".*.tmp"))
    assert results[0] == repr(load_catalogue(catalogue_copy))


def test_warm_simple_commands_skip_yaml_and_schema_libraries(tmp_path: Path) -> None:
    """With the cache warm, the commands a user runs most import no YAML parser, no schema
    validator and (for JSON) no table renderer; the first, cold run still gives the same
    answer."""
    lab_a = REPO / "labs" / "contoso-claims.yaml"
    lab_b = REPO / "labs" / "fabrikam-full-server.yaml"
    code = (
        "import contextlib, io, json, sys; from crm_ports.cli import run\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    codes = [run(['rules', '--format', 'json']), run(['ports', '--format', 'json']),"
        f" run(['matrix', '--format', 'json']), run(['diff', '--base', '{lab_a}',"
        f" '--head', '{lab_b}', '--format', 'json'])]\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'ruamel', 'jsonschema',"
        " 'tabulate', 'cdktf', 'jsii'})\n"
        "print(json.dumps([codes, heavy, len(out.getvalue())]))"
    )
    cold, warm = _cold_then_warm(code, cwd=tmp_path, cache=tmp_path / "cache")
    assert cold[0] == warm[0] == [0, 0, 0, 1]
    assert "ruamel" in cold[1] and "jsonschema" in cold[1]
    assert warm[1] == []
    assert cold[2] == warm[2]


def test_catalogue_pickles_by_value(catalogue: Catalogue) -> None:
    import pickle

    assert pickle.loads(pickle.dumps(catalogue)) == catalogue


# What each everyday command may not load once the cache is warm: parsing (the catalogue
# builder, schemas, YAML), the modules of lab files it was not given, and the review
# machinery of other commands. Each is a module that costs import time on every run.
NOT_LOADED = {
    "rules": {
        "crm_ports.catalogue.build",
        "crm_ports.inputs.validation",
        "crm_ports.lab.file",
        "crm_ports.lab.backend",
        "crm_ports.lab.placement",
        "crm_ports.lab.extra",
        "crm_ports.review",
    },
    "check": {
        "crm_ports.catalogue.build",
        "crm_ports.lab.placement",
        "crm_ports.review.diagram",
        "crm_ports.review.sides",
        "crm_ports.review.diff",
        "subprocess",
        "tarfile",
    },
    "diff": {
        "crm_ports.catalogue.build",
        "crm_ports.lab.placement",
        "crm_ports.policy.registry",
        "crm_ports.policy.report",
        "tarfile",
        "tempfile",
    },
}
NOT_LOADED["ports"] = NOT_LOADED["matrix"] = NOT_LOADED["rules"]


@pytest.mark.parametrize("command", sorted(NOT_LOADED))
def test_warm_commands_import_only_their_own_path(tmp_path: Path, command: str) -> None:
    """A fresh process per command, as a user runs it, after one run has filled the
    cache: the modules it never needs stay unloaded, and it still answers."""
    labs = ["--base", "labs/contoso-claims.yaml", "--head", "labs/fabrikam-full-server.yaml"]
    args = [command, *labs] if command == "diff" else [command]
    code = (
        "import contextlib, io, json, sys; from crm_ports.cli import run\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    code = run({args!r})\n"
        "print(json.dumps([code, sorted(sys.modules), len(out.getvalue())]))"
    )
    cold, warm = _cold_then_warm(code, cwd=REPO, cache=tmp_path / "cache")
    assert warm[0] == cold[0] == (1 if command == "diff" else 0)
    assert warm[2] == cold[2] > 0
    assert "crm_ports.catalogue.build" in cold[1]  # the first run did parse
    assert sorted(NOT_LOADED[command] & set(warm[1])) == []


def _cold_then_warm(code: str, *, cwd: Path, cache: Path) -> tuple[Any, Any]:
    """`code`'s JSON answer from two fresh interpreters sharing one parse cache: the first
    fills it, the second finds it warm."""
    env = {**os.environ, "CRM_PORTS_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    cold, warm = (
        json.loads(
            subprocess.run(
                [sys.executable, "-c", code],
                cwd=cwd,
                capture_output=True,
                text=True,
                check=True,
                env=env,
            ).stdout
        )
        for _ in range(2)
    )
    return cold, warm


@pytest.mark.parametrize("module", ["catalogue/build.py", "lab/placement.py", "options.py"])
def test_an_edited_module_in_any_package_is_a_miss(tmp_path: Path, module: str) -> None:
    """The record names every module of the package, sub-packages included: after an edit
    of one (here in a copy of the package), the next run parses again instead of trusting
    what the old code built."""
    copy = tmp_path / "copy"
    shutil.copytree(REPO / "crm_ports", copy / "crm_ports", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copytree(REPO / "catalog", copy / "catalog")
    code = (
        "import json, sys; from crm_ports.catalogue import load_catalogue; load_catalogue()\n"
        "print(json.dumps('crm_ports.catalogue.build' in sys.modules))"
    )
    env = {**os.environ, "CRM_PORTS_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(copy)}

    def parsed() -> bool:
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) is not None
        return bool(json.loads(result.stdout))

    assert parsed() and not parsed()  # cold, then warm
    edited = copy / "crm_ports" / module
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert parsed()
