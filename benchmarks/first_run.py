"""`make synth` in a fresh copy of the repository: what a new user's first run costs.

The copy is the committed tree (`git archive HEAD`, what a clone checks out) in a
temporary folder, with no virtual environment and an empty parse cache, so `make synth`
creates `.venv`, installs crm-ports and its runtime dependencies, and synthesizes the
default labs. pip's download cache is the machine's own: the result says whether it held
anything, and whether pip installs from a local wheel folder, since downloads (network
speed, not ours) would add to the figure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# make's own interpreter for the new venv: the base Python this venv was made from.
BASE_PYTHON = Path(sys.base_prefix) / "bin" / "python3"


def _tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def _pip_cache(python: Path) -> dict[str, Any]:
    """Where pip's cache is and how much it holds (0: a cold first run downloads)."""
    try:
        folder = subprocess.run(
            [str(python), "-m", "pip", "cache", "dir"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"warm": None, "mb": None}
    size = _tree_size(Path(folder)) if folder and Path(folder).is_dir() else 0
    return {"warm": size > 0, "mb": round(size / 2**20), "local_wheels": _local_wheels(python)}


def _local_wheels(python: Path) -> bool:
    """Whether pip installs from a folder or file:// index on this machine (a sandbox's
    wheelhouse): then nothing is downloaded even with an empty cache."""
    try:
        config = subprocess.run(
            [str(python), "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        config = ""
    settings = config + "\n" + os.environ.get("PIP_FIND_LINKS", "")
    return (
        "find-links" in settings or "file://" in settings or bool(os.environ.get("PIP_FIND_LINKS"))
    )


def _export(repo: Path, target: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", "HEAD"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def measure_first_run(
    repo: Path, sampler: Callable[[int], Any], env: dict[str, str]
) -> dict[str, Any]:
    """Wall time, CPU, memory and venv size of `make synth` in a fresh copy of `repo`.

    `sampler(pid)` returns a started tree sampler (`.stop()`, `.peak_kb`), as the
    benchmark uses for its commands."""
    with tempfile.TemporaryDirectory(prefix="crm-ports-first-run-") as tmp:
        clone = Path(tmp) / "crm-ports"
        clone.mkdir()
        _export(repo, clone)
        run_env = {k: v for k, v in env.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        run_env["CRM_PORTS_CACHE_DIR"] = str(Path(tmp) / "parse-cache")  # a new user's
        with tempfile.TemporaryFile("w+") as log:
            start = time.perf_counter()
            child = subprocess.Popen(
                ["make", "synth", f"PYTHON={BASE_PYTHON}"],
                cwd=clone,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=run_env,
            )
            tree = sampler(child.pid)
            _pid, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - start
            tree.stop()
            log.seek(0)
            output = log.read()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise RuntimeError(f"make synth in a fresh copy failed (exit {code}):\n{output}")
        stacks = sorted(p.name for p in (clone / "cdktf.out" / "stacks").iterdir())
        return {
            "command": "make synth (fresh copy: no .venv, empty parse cache)",
            "wall_s": round(wall, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": {
                "largest_process": round(usage.ru_maxrss / 1024, 1),
                "sampled_tree": round(tree.peak_kb / 1024, 1),
            },
            "venv_mb": round(_tree_size(clone / ".venv") / 2**20),
            "stacks": stacks,
            "pip_cache": _pip_cache(BASE_PYTHON),
            # what make said it was doing, minus pip's own lines
            "said": [line for line in output.splitlines() if line.startswith("make synth:")],
        }
