"""`crm-ports why`: one packet explained against the stacks as `verify` evaluates them,
rule and citations included. Like `verify`, with --synth nothing is synthesized and
cdktf is never imported."""

from __future__ import annotations

from pathlib import Path

import click

from crm_ports.commands.common import stack_options, stack_targets
from crm_ports.verify.why import Answer, UnknownName, explain, parse_packet


@click.command(
    epilog="""\b
Examples:
  crm-ports why crm-front-end sql-server tcp/1433
  crm-ports why clients domain-controller tcp/3389 --lab labs/contoso-claims.yaml
  crm-ports why 0.0.0.0/0 crm-front-end tcp/443 --synth cdktf.out --cloud azure
\b
Exit status: 0 the stacks agree with the catalogue, 1 one does not, 2 bad input."""
)
@click.argument("source", metavar="FROM")
@click.argument("target", metavar="TO")
@click.argument("packet", metavar="PROTO/PORT")
@stack_options
@click.option(
    "--cloud",
    type=click.Choice(("aws", "azure")),
    default=None,
    help="Only this cloud's stacks. [default: every cloud the lab deploys to]",
)
@click.pass_context
def why(
    ctx: click.Context,
    /,
    source: str,
    target: str,
    packet: str,
    synth_dir: Path | None,
    lab_paths: tuple[Path, ...],
    all_labs: bool,
    var_file: Path | None,
    cloud: str | None,
) -> int:
    """Explain one answer: is PROTO/PORT from FROM to TO allowed, by which rule (its
    resource address), and which catalogue flow asks for it with its citations; or why
    nothing allows it. FROM and TO are host groups or peers (clients, administrators,
    mail-system); FROM may also be an IPv4 address or range."""
    wanted = parse_packet(packet)
    answers: list[Answer] = []
    unknown: UnknownName | None = None
    with stack_targets(ctx, synth_dir, lab_paths, all_labs, var_file) as targets:
        for t in targets:
            if cloud is not None and t.stack.cloud != cloud:
                continue
            try:
                answers.append(
                    explain(t.expected, t.firewall, t.stack.name, source, target, wanted)
                )
            except UnknownName as exc:  # a host group of another lab
                unknown = exc
    if not answers and unknown is not None:
        raise unknown
    click.echo("".join(a.text() for a in answers), nl=False)
    return 0 if all(a.agrees for a in answers) else 1
