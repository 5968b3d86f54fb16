"""Where a lab stack keeps its Terraform state: the lab file's `backend:` section.

State is the user's, not ours. An output folder (`cdktf.out`) is disposable: cdktf-cli
empties it before every synth, and `make clean` removes it. So the default local state
sits *beside* the output folder, at `terraform.<stack>.tfstate` (cdktf's own convention
in the project root), written as a path relative to the stack's folder
(`<out>/stacks/<stack>/`) so the synthesized JSON stays byte-identical in any checkout.
Remote state (S3 with Terraform's native lock file, or an Azure storage container) gets one
key per stack, so two stacks never share one state.

Pure Python: this decides the backend block; `crm_ports.stacks.common` only renders it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from crm_ports.errors import InputError
from crm_ports.lab.emulator import ACCESS_KEY, SECRET_KEY

STACK_PLACEHOLDER = "{stack}"
# From <out>/stacks/<stack>/ (where terraform runs) up to the folder holding <out>.
_UP_FROM_STACK = "../../../"
# What Terraform writes for a local backend at PATH: the state, its backup, and the
# timestamped backups of `terraform state` commands (the same patterns .gitignore lists).
STATE_FILES = ("*.tfstate", "*.tfstate.backup", "*.tfstate.*.backup")


def local_state_file(stack: str) -> str:
    """The state file's name, in the folder that holds the output folder."""
    return f"terraform.{stack}.tfstate"


@dataclass(frozen=True)
class LocalState:
    """The default: `terraform.<stack>.tfstate` beside the output folder."""

    def block(self, stack: str, emulator: str | None) -> tuple[str, dict[str, Any]]:
        return "local", {"path": _UP_FROM_STACK + local_state_file(stack)}

    def where(self, stack: str) -> str:
        return local_state_file(stack)


@dataclass(frozen=True)
class S3State:
    """State in an S3 bucket, locked with Terraform's native lock file (`use_lockfile`,
    Terraform >= 1.10: a `.tflock` object beside the state, no DynamoDB table)."""

    bucket: str
    region: str
    key: str = f"crm-ports/{STACK_PLACEHOLDER}.tfstate"
    encrypt: bool = True
    use_lockfile: bool = True
    endpoint: str | None = None  # an emulator's S3 (moto); defaults to aws.endpoint_url

    def block(self, stack: str, emulator: str | None) -> tuple[str, dict[str, Any]]:
        config: dict[str, Any] = {
            "bucket": self.bucket,
            "key": self.key.replace(STACK_PLACEHOLDER, stack),
            "region": self.region,
            "encrypt": self.encrypt,
            "use_lockfile": self.use_lockfile,
        }
        endpoint = self.endpoint or emulator
        if endpoint:
            # An emulator: its own endpoints and test credentials, path-style buckets,
            # and none of the checks that would ask real AWS who we are.
            config.update(
                {
                    "endpoints": {"s3": endpoint, "sts": endpoint, "iam": endpoint},
                    "access_key": ACCESS_KEY,
                    "secret_key": SECRET_KEY,
                    "use_path_style": True,
                    "skip_credentials_validation": True,
                    "skip_requesting_account_id": True,
                    "skip_metadata_api_check": True,
                    "skip_region_validation": True,
                }
            )
        return "s3", config

    def where(self, stack: str) -> str:
        return f"s3://{self.bucket}/{self.key.replace(STACK_PLACEHOLDER, stack)}"


@dataclass(frozen=True)
class AzurermState:
    """State in an Azure storage container (blob leases lock it)."""

    resource_group_name: str
    storage_account_name: str
    container_name: str
    key: str = f"{STACK_PLACEHOLDER}.tfstate"

    def block(self, stack: str, emulator: str | None) -> tuple[str, dict[str, Any]]:
        return "azurerm", {
            "resource_group_name": self.resource_group_name,
            "storage_account_name": self.storage_account_name,
            "container_name": self.container_name,
            "key": self.key.replace(STACK_PLACEHOLDER, stack),
        }

    def where(self, stack: str) -> str:
        key = self.key.replace(STACK_PLACEHOLDER, stack)
        return f"azurerm {self.storage_account_name}/{self.container_name}/{key}"


Backend = LocalState | S3State | AzurermState
LOCAL = LocalState()


def backend_from(
    raw: dict[str, Any] | None,
    *,
    file: str,
    entry: str,
    clouds: tuple[str, ...],
    aws_region: str,
    line_of: Any = lambda _path: None,
) -> Backend:
    """The lab file's `backend:` (already shape-checked by the lab schema: exactly one of
    `s3` / `azurerm`, known keys, required ones present)."""
    if not raw:
        return LOCAL
    [(kind, settings)] = raw.items()
    settings = dict(settings)
    key = settings.get("key")
    if key is not None and STACK_PLACEHOLDER not in key and len(clouds) > 1:
        raise InputError(
            file,
            entry,
            f"backend.{kind}.key",
            f"'{key}' would hold the state of {len(clouds)} stacks ({', '.join(clouds)}) in "
            f"one object: put {STACK_PLACEHOLDER} in it, or leave it out (one key per stack)",
            line_of(("backend", kind, "key")),
        )
    if kind == "s3":
        settings.setdefault("region", aws_region)
        return S3State(**settings)
    return AzurermState(**settings)


def states_inside(out: Path) -> list[Path]:
    """State files a previous layout (state beside each `cdk.tf.json`) left inside an
    output folder, which cdktf-cli and `make clean` would delete. `.terraform/` holds
    only Terraform's working copy of the backend settings, never the state itself."""
    stacks = out / "stacks"
    if not stacks.is_dir():
        return []
    return sorted(
        path
        for path in stacks.rglob("*")
        if path.is_file()
        and any(fnmatch(path.name, pattern) for pattern in STATE_FILES)
        and ".terraform" not in path.relative_to(stacks).parts
    )


def refuse_state_inside(outdir: Path) -> None:
    """Terraform state left inside an output folder by the earlier layout (state beside
    each cdk.tf.json) is one synth away from deletion: cdktf-cli removes the folders of
    stacks it does not build, and `make clean` removes them all. Refuse, and say where
    the state belongs now."""
    from crm_ports.inputs import yamlio

    found = states_inside(outdir)
    if not found:
        return
    state = found[0]
    stack = state.relative_to(outdir / "stacks").parts[0]
    # Whatever follows ".tfstate" (".backup", ".1700000000.backup") stays with the file.
    suffix = state.name[state.name.index(".tfstate") + len(".tfstate") :]
    target = outdir.parent / (local_state_file(stack) + suffix)
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    raise InputError(
        yamlio.display_name(state),
        f"stack '{stack}'",
        "state",
        f"Terraform state inside an output folder would be deleted by the next synth{more}: "
        f"move it to {yamlio.display_name(target)} (where the stacks keep their state now), "
        "then synthesize again",
    )
