"""`crm-ports`: a thin shell over the catalogue, resolver and renderers.

Parse options, call, print. Bad input of any kind ends as one line on stderr and exit
status 2, with nothing written. Commands are registered lazily by module so that the
ones that never synthesize never import cdktf (and so never start Node).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

import click

from crm_ports import __version__
from crm_ports.errors import InputError, SynthesisError, Terminated

EPILOG = """\b
Examples:
  crm-ports rules --topology full-server --format table
  crm-ports rules --lab labs/contoso-claims.yaml --format json
  crm-ports ports --format markdown
  crm-ports matrix --auth claims --email pop3-smtp
  crm-ports validate                  # the built-in catalogue (or --catalog's)
  crm-ports verify --synth cdktf.out
  crm-ports review --base origin/main --post github
"""


class LazyGroup(click.Group):
    """Commands live in their own modules and are imported only when invoked."""

    # name -> (module, attribute, one-line help shown by --help without importing it)
    COMMANDS: ClassVar[dict[str, tuple[str, str, str]]] = {
        "ports": ("crm_ports.commands.ports", "ports", "The catalogue as the seeds' tables."),
        "rules": ("crm_ports.commands.rules", "rules", "The resolved rule set of a lab."),
        "matrix": ("crm_ports.commands.matrix", "matrix", "Group-by-group connectivity."),
        "init": ("crm_ports.commands.init", "init", "Start a labs repository of your own."),
        "validate": ("crm_ports.commands.validate", "validate", "Check a catalogue or lab."),
        "diff": ("crm_ports.commands.diff", "diff", "What a change does to rules and clouds."),
        "check": ("crm_ports.commands.check", "check", "Policy checks on rules and synth output."),
        "diagram": ("crm_ports.commands.diagram", "diagram", "Host groups and flows as a diagram."),
        "synth": ("crm_ports.commands.synth", "synth", "Write the lab stacks (cdk.tf.json)."),
        "audit": ("crm_ports.commands.audit", "audit", "Compare a deployed lab with its plan."),
        "adopt": ("crm_ports.commands.adopt", "adopt", "Take a hand-built estate over."),
        "verify": (
            "crm_ports.commands.verify",
            "verify",
            "Evaluate the stacks as each cloud does.",
        ),
        "why": ("crm_ports.commands.why", "why", "Which rule allows one packet, and why."),
        "review": (
            "crm_ports.commands.review",
            "review",
            "Diff, check and verify as one pull-request comment.",
        ),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.COMMANDS.get(cmd_name)
        if target is None:
            return None
        import importlib

        module = importlib.import_module(target[0])
        command: click.Command = getattr(module, target[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crm-ports")
@click.option(
    "--catalog",
    "catalog",
    type=click.Path(path_type=Path),
    default=None,
    help="Catalogue directory (or single YAML file) to use instead of the built-in one.",
)
@click.pass_context
def cli(ctx: click.Context, catalog: Path | None) -> None:
    """Firewall rules for Microsoft Dynamics CRM 2013 on-premises labs, from a reviewed
    catalogue of the ports the Microsoft documents list."""
    ctx.obj = {"catalog": catalog}


def fail(message: str) -> None:
    click.echo(f"crm-ports: error: {' '.join(message.split())}", err=True)


def _main(args: list[str] | None) -> object:
    return cli.main(args=args, prog_name="crm-ports", standalone_mode=False)


def run(args: list[str] | None = None) -> int:
    """Run the CLI and return the exit status instead of exiting (tests call this)."""
    try:
        result = _main(args)
    except InputError as exc:
        fail(str(exc))
        return 2
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
        return 2
    except click.UsageError as exc:
        fail(f"command line: {exc.format_message()}")
        return 2
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        fail("aborted")
        return 130
    except Terminated as exc:
        fail(str(exc))
        return exc.exit_status
    except SynthesisError as exc:
        fail(str(exc))
        return 1
    except click.ClickException as exc:
        fail(exc.format_message())
        return exc.exit_code
    except BrokenPipeError:
        return 0
    return int(result) if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())
