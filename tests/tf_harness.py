"""Run ``terraform validate`` on synthesized stacks without any network.

The Terraform registry is unreachable from our machines and CI, so providers
come from a local *filesystem mirror*: a directory laid out as
``<mirror>/registry.terraform.io/hashicorp/aws/<version>/<os>_<arch>/`` (or the
packed ``.zip`` layout).  Every run gets its own CLI config, data dir and
plugin cache under a temporary directory, so neither the developer's
``~/.terraformrc`` nor a stale ``.terraform`` can change the outcome.

Tools that are missing make tests *skip*, except when ``CRM_PORTS_REQUIRE_TOOLS=1``
(set that in CI), where they *fail*: a green run must not hide an untested path.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest

__all__ = [
    "AWS_PROVIDER_ADDRESS",
    "MIRROR_ENV",
    "REQUIRE_TOOLS_ENV",
    "Validation",
    "aws_provider_mirror",
    "require_module",
    "require_tool",
    "terraform_available",
    "terraform_env",
    "terraform_init",
    "terraform_provider_schema",
    "terraform_validate",
    "terraform_validate_documents",
    "terraform_validate_many",
    "write_cli_config",
]

AWS_PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"
MIRROR_ENV = "CRM_PORTS_TF_MIRROR"
REQUIRE_TOOLS_ENV = "CRM_PORTS_REQUIRE_TOOLS"

# Roots searched for a mirror, in order, after $CRM_PORTS_TF_MIRROR.  The
# mirror may sit directly in a root or up to two levels below it
# (e.g. /opt/tf-plugins, ~/.terraform.d/plugins).
_MIRROR_ROOTS: tuple[str, ...] = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/opt/tf-plugins",
    "/opt",
    "/usr/local/share",
)
_MIRROR_SEARCH_DEPTH = 2
_TIMEOUT_S = 300


def _platform_dir() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    return f"{platform.system().lower()}_{arch}"


def _has_aws_provider(mirror: Path) -> bool:
    """True if ``mirror`` holds an aws provider build for this platform."""
    provider_dir = mirror / AWS_PROVIDER_ADDRESS
    if not provider_dir.is_dir():
        return False
    plat = _platform_dir()
    unpacked = any(provider_dir.glob(f"*/{plat}/terraform-provider-aws*"))
    packed = any(provider_dir.glob(f"terraform-provider-aws_*_{plat}.zip"))
    return unpacked or packed


def _candidates(root: Path) -> Iterator[Path]:
    yield root
    level = [root]
    for _ in range(_MIRROR_SEARCH_DEPTH):
        next_level: list[Path] = []
        for directory in level:
            try:
                children = sorted(p for p in directory.iterdir() if p.is_dir())
            except OSError:
                continue
            next_level.extend(children)
        yield from next_level
        level = next_level


def aws_provider_mirror() -> Path | None:
    """Locate a filesystem mirror holding hashicorp/aws for this platform."""
    explicit = os.environ.get(MIRROR_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        return path if _has_aws_provider(path) else None
    for raw in _MIRROR_ROOTS:
        root = Path(raw).expanduser()
        if not root.is_dir():
            continue
        for candidate in _candidates(root):
            if candidate.name == "registry.terraform.io":
                continue
            if _has_aws_provider(candidate):
                return candidate
    return None


def terraform_available() -> Path | None:
    found = shutil.which("terraform")
    return Path(found) if found else None


_FINDERS: dict[str, Callable[[], Path | None]] = {
    "terraform": terraform_available,
    "aws-provider-mirror": aws_provider_mirror,
    "cdktf-cli": lambda: cdktf_cli(),
}


def cdktf_cli() -> Path | None:
    """The cdktf CLI that package.json pins, as `npm ci` installs it."""
    local = Path(__file__).resolve().parent.parent / "node_modules" / ".bin" / "cdktf"
    return local if local.is_file() else None


def _tools_required() -> bool:
    return os.environ.get(REQUIRE_TOOLS_ENV, "").strip().lower() in {"1", "true", "yes"}


def _missing(name: str, reason: str) -> NoReturn:
    message = f"{name} unavailable: {reason}"
    if _tools_required():
        pytest.fail(f"{message} ({REQUIRE_TOOLS_ENV}=1 forbids skipping)", pytrace=False)
    pytest.skip(message)


def require_tool(name: str, reason: str) -> Path:
    """Return the tool's path, or skip the test (fail under CRM_PORTS_REQUIRE_TOOLS=1).

    ``name`` is ``"terraform"``, ``"aws-provider-mirror"`` or any executable on
    PATH; ``reason`` says why the test needs it and ends up in the skip text.
    """
    finder = _FINDERS.get(name)
    if finder is not None:
        found = finder()
    else:
        which = shutil.which(name)
        found = Path(which) if which else None
    if found is None:
        hint = f" (set {MIRROR_ENV})" if name == "aws-provider-mirror" else ""
        _missing(name, f"{reason}{hint}")
    return found


def require_module(name: str, reason: str) -> ModuleType:
    """The imported module, or skip the test (fail under CRM_PORTS_REQUIRE_TOOLS=1).

    ``pytest.importorskip`` in its place would skip even where CI requires every tool, so a
    missing extra (the prebuilt bindings) would leave a test unrun on a green run.
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"python package {name}", reason)


def write_cli_config(tmpdir: Path, mirror: Path) -> Path:
    """Write a CLI config that installs aws from ``mirror`` and nothing from the network.

    ``direct`` still covers other providers so a test that needs one fails
    with Terraform's own "could not query provider registry" message rather
    than a confusing "no available releases".
    """
    tmpdir.mkdir(parents=True, exist_ok=True)
    path = tmpdir / "terraform.tfrc"
    path.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        f'    include = ["{AWS_PROVIDER_ADDRESS}"]\n'
        "  }\n"
        "  direct {\n"
        f'    exclude = ["{AWS_PROVIDER_ADDRESS}"]\n'
        "  }\n"
        "}\n",
        encoding="utf-8",
    )
    return path


def terraform_env(tmpdir: Path, mirror: Path) -> dict[str, str]:
    """Environment isolating Terraform from user config, state and telemetry."""
    cache = tmpdir / "plugin-cache"
    cache.mkdir(parents=True, exist_ok=True)  # Terraform refuses a missing cache dir.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TF_CLI_ARGS", "TF_VAR_", "TF_LOG", "TF_WORKSPACE"))
    }
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(write_cli_config(tmpdir, mirror)),
            "TF_DATA_DIR": str(tmpdir / "tf-data"),
            "TF_PLUGIN_CACHE_DIR": str(cache),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
    )
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
    )


def _stack_file(stack_dir: Path) -> Path:
    stack_file = stack_dir / "cdk.tf.json"
    if not stack_file.is_file():
        raise FileNotFoundError(f"{stack_dir} holds no cdk.tf.json")
    return stack_file


def terraform_init(stack_dir: Path, workdir: Path) -> tuple[Path, dict[str, str]]:
    """Copy ``stack_dir/cdk.tf.json`` into ``workdir/stack`` and ``terraform init`` it.

    Returns the initialised directory and the environment to reuse for
    further commands there.  Only the JSON is copied: a stale ``.terraform``
    or lock file next to the synthesized stack must not influence the result.
    """
    terraform = require_tool("terraform", "validates synthesized Terraform JSON")
    mirror = require_tool("aws-provider-mirror", "terraform init cannot reach the registry")
    source = _stack_file(stack_dir)
    run_dir = workdir / "stack"
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, run_dir / "cdk.tf.json")
    env = terraform_env(workdir / "tf", mirror)
    init = _run(
        [str(terraform), "init", "-backend=false", "-input=false", "-no-color"], run_dir, env
    )
    if init.returncode != 0:
        raise AssertionError(
            f"terraform init failed in {run_dir} (exit {init.returncode}):\n"
            f"{init.stdout}\n{init.stderr}"
        )
    return run_dir, env


def _format_diagnostics(diagnostics: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for diag in diagnostics:
        where = diag.get("address") or diag.get("snippet", {}).get("context") or "?"
        lines.append(
            f"[{diag.get('severity')}] {where}: {diag.get('summary')}\n    {diag.get('detail', '')}"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Validation:
    """What ``terraform validate`` said about one stack, batched or not."""

    stack_dir: Path
    diagnostics: tuple[Mapping[str, Any], ...]

    @property
    def errors(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(d for d in self.diagnostics if d.get("severity") == "error")

    @property
    def warnings(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(d for d in self.diagnostics if d.get("severity") == "warning")

    def assert_valid(self, *, allow_warnings: bool = True) -> None:
        """Fail naming this stack's file, with only this stack's diagnostics."""
        if self.errors or (not allow_warnings and self.warnings):
            raise AssertionError(
                f"terraform validate rejected {self.stack_dir / 'cdk.tf.json'}:\n"
                + _format_diagnostics(self.diagnostics)
            )


def _validate_json(run_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    terraform = str(require_tool("terraform", "validates synthesized Terraform JSON"))
    result = _run([terraform, "validate", "-json", "-no-color"], run_dir, env)
    try:
        report: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"terraform validate printed no JSON (exit {result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        ) from None
    if not report.get("valid", False) and not report.get("error_count", 0):
        raise AssertionError(f"terraform validate: invalid without an error:\n{result.stdout}")
    return report


def _validate_alone(stack_dir: Path) -> Validation:
    """The stack as the root module, exactly as Terraform sees it when deployed."""
    with tempfile.TemporaryDirectory(prefix="crm-ports-tf-") as tmp:
        run_dir, env = terraform_init(stack_dir, Path(tmp))
        report = _validate_json(run_dir, env)
    return Validation(stack_dir, tuple(report.get("diagnostics", [])))


def _batchable(document: Mapping[str, Any]) -> bool:
    """Whether the stack means the same as a child module as it does as the root.

    A variable without a default would be a missing argument of the module call, and
    ``import`` blocks are only allowed in the root module: such stacks run alone.
    """
    variables: Mapping[str, Mapping[str, Any]] = document.get("variable", {})
    return "import" not in document and all("default" in v for v in variables.values())


def _as_child_module(document: Mapping[str, Any]) -> dict[str, Any]:
    """The stack without its backend: ``-backend=false`` ignores it in the root module,
    and Terraform warns about a backend in a child module."""
    child = dict(document)
    if "terraform" in child:
        child["terraform"] = {k: v for k, v in child["terraform"].items() if k != "backend"}
    return child


def _validate_batch(stack_dirs: Sequence[Path]) -> dict[Path, Validation] | None:
    """One ``terraform init`` and ``validate`` over a root module that calls each stack as
    a child module ``s<i>``, so the provider's schema is read once rather than per stack.

    Returns None when a diagnostic cannot be pinned on one stack (init failed, or the
    diagnostic is not in a stack's file): the caller then validates each stack alone.
    """
    terraform = require_tool("terraform", "validates synthesized Terraform JSON")
    mirror = require_tool("aws-provider-mirror", "terraform init cannot reach the registry")
    with tempfile.TemporaryDirectory(prefix="crm-ports-tf-") as tmp:
        root = Path(tmp) / "root"
        files: dict[str, Path] = {}
        calls: dict[str, dict[str, str]] = {}
        for index, stack_dir in enumerate(stack_dirs):
            document = json.loads(_stack_file(stack_dir).read_text(encoding="utf-8"))
            folder = root / "stacks" / f"s{index}"
            folder.mkdir(parents=True)
            (folder / "cdk.tf.json").write_text(
                json.dumps(_as_child_module(document), indent=2), encoding="utf-8"
            )
            files[f"stacks/s{index}/cdk.tf.json"] = stack_dir
            calls[f"s{index}"] = {"source": f"./stacks/s{index}"}
        (root / "main.tf.json").write_text(json.dumps({"module": calls}), encoding="utf-8")
        env = terraform_env(Path(tmp) / "tf", mirror)
        init = _run(
            [str(terraform), "init", "-backend=false", "-input=false", "-no-color"], root, env
        )
        if init.returncode != 0:
            return None
        report = _validate_json(root, env)
    found: dict[Path, list[Mapping[str, Any]]] = {d: [] for d in stack_dirs}
    for diag in report.get("diagnostics", []):
        filename = diag.get("range", {}).get("filename", "")
        owner = files.get(filename)
        if owner is None:
            return None
        found[owner].append(_as_root_diagnostic(diag, filename, owner))
    return {d: Validation(d, tuple(found[d])) for d in stack_dirs}


def _as_root_diagnostic(diag: Mapping[str, Any], filename: str, owner: Path) -> dict[str, Any]:
    """The diagnostic as the stack alone would give it: its own file, its own addresses."""
    module = "module." + filename.split("/")[1] + "."
    fixed = {**diag, "range": {**diag["range"], "filename": str(owner / "cdk.tf.json")}}
    address = diag.get("address")
    if isinstance(address, str) and address.startswith(module):
        fixed["address"] = address.removeprefix(module)
    return fixed


def terraform_validate_many(stack_dirs: Iterable[Path]) -> dict[Path, Validation]:
    """``terraform validate`` of many stacks, each judged on its own diagnostics.

    A stack counts as valid only from a batch that reported no error at all: an error
    in one stack's configuration can stop Terraform before it asks the provider about the
    others, so the stacks without errors go round again without the failing ones.
    """
    pending = list(dict.fromkeys(Path(d) for d in stack_dirs))
    results: dict[Path, Validation] = {}
    for stack_dir in pending:
        document = json.loads(_stack_file(stack_dir).read_text(encoding="utf-8"))
        if not _batchable(document):
            results[stack_dir] = _validate_alone(stack_dir)
    pending = [d for d in pending if d not in results]
    while len(pending) > 1:
        batch = _validate_batch(pending)
        if batch is None:
            break
        failed = [d for d in pending if batch[d].errors]
        if not failed:
            results.update(batch)
            return results
        results.update({d: batch[d] for d in failed})
        pending = [d for d in pending if d not in failed]
    results.update({d: _validate_alone(d) for d in pending})
    return results


def terraform_validate_documents(
    folder: Path, documents: Mapping[str, Mapping[str, Any]]
) -> dict[str, Validation]:
    """`terraform_validate_many` of stacks given as parsed JSON: each is written to
    ``folder/<key>/cdk.tf.json`` first, so a failure names the key's folder."""
    dirs: dict[str, Path] = {}
    for key, document in documents.items():
        dirs[key] = folder / key
        dirs[key].mkdir(parents=True)
        (dirs[key] / "cdk.tf.json").write_text(json.dumps(document), encoding="utf-8")
    results = terraform_validate_many(dirs.values())
    return {key: results[stack_dir] for key, stack_dir in dirs.items()}


def terraform_validate(stack_dir: Path, *, allow_warnings: bool = True) -> None:
    """Assert that the stack in ``stack_dir`` passes ``terraform validate``.

    Needs neither credentials nor a region: validate only asks the provider
    to check configuration shape, it never configures a client.
    """
    _validate_alone(stack_dir).assert_valid(allow_warnings=allow_warnings)


def terraform_provider_schema(stack_dir: Path) -> dict[str, Any]:
    """``terraform providers schema -json`` for the providers the stack requires.

    Only ``terraform.required_providers`` is kept: the schema command insists
    on an initialised backend, and the stack's backend is irrelevant here.
    """
    required = json.loads(_stack_file(stack_dir).read_text(encoding="utf-8"))["terraform"][
        "required_providers"
    ]
    with tempfile.TemporaryDirectory(prefix="crm-ports-tf-") as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        (source / "cdk.tf.json").write_text(
            json.dumps({"terraform": {"required_providers": required}}), encoding="utf-8"
        )
        run_dir, env = terraform_init(source, Path(tmp))
        terraform = str(require_tool("terraform", "reads provider schemas"))
        result = _run([terraform, "providers", "schema", "-json"], run_dir, env)
        if result.returncode != 0:
            raise AssertionError(f"terraform providers schema failed:\n{result.stderr}")
        schema: dict[str, Any] = json.loads(result.stdout)
        return schema
