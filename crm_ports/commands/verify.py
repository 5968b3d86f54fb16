"""`crm-ports verify`: the synthesized stacks evaluated the way AWS and Azure evaluate
them, and compared with the lab's catalogue flows. With --synth nothing is synthesized
and cdktf is never imported; otherwise the labs are synthesized into a scratch folder
first (`stack_targets`, shared with `why`)."""

from __future__ import annotations

from pathlib import Path

import click

from crm_ports.commands.common import (
    check_output,
    emit,
    emit_sarif,
    format_option,
    output_option,
    sarif_tree,
    stack_options,
    stack_targets,
)
from crm_ports.verify.report import render_json, render_table
from crm_ports.verify.run import verify_targets


@click.command(
    epilog="""\b
Examples:
  crm-ports verify --synth cdktf.out
  crm-ports verify --lab labs/contoso-claims.yaml
  crm-ports verify --all --format markdown -o verify.md
  crm-ports verify --synth cdktf.out --var-file prod.tfvars --format json
  crm-ports verify --synth cdktf.out --format sarif -o verify.sarif
\b
Exit status: 0 every stack allows exactly the flows, 1 a flow is missing or something
else is allowed, 2 bad input."""
)
@stack_options
@format_option("table", ("table", "markdown", "json", "sarif"))
@output_option
@click.pass_context
def verify(
    ctx: click.Context,
    /,
    synth_dir: Path | None,
    lab_paths: tuple[Path, ...],
    all_labs: bool,
    var_file: Path | None,
    fmt: str,
    output: Path | None,
) -> int:
    """Evaluate each synthesized stack (cdk.tf.json only) as its cloud would and compare
    what it allows with the lab's catalogue flows: every flow allowed on every port, and
    nothing into a lab server that no flow asks for.

    AWS: the union of the ingress rules of every group an instance carries (its own and
    lab-servers), referenced groups included, and the source's egress rules. Azure: the
    NSG's rules in priority order, then the default rules (65000, 65001, 65500), with ASG
    membership and service tags. Both are stateful: replies need no rule. Variables take
    their defaults, or the values of --var-file; for_each expands over them.

    `--format sarif` writes a SARIF 2.1.0 log for GitHub code scanning: rule CRMV001 for
    a flow the stack does not allow, CRMV002 for reach no flow asks for, each at the lab
    line that explains it, else at the stack file (docs/reviewing.md)."""
    check_output(ctx, output, *lab_paths, var_file)
    with stack_targets(ctx, synth_dir, lab_paths, all_labs, var_file) as targets:
        results = verify_targets(targets)
    if fmt == "sarif":
        from crm_ports import __version__
        from crm_ports.verify.sarif import verify_sarif

        emit_sarif(verify_sarif(targets, results, sarif_tree(ctx), __version__), output)
    else:
        emit(render_json(results) if fmt == "json" else render_table(results, fmt), output)
    return 0 if all(r.ok for r in results) else 1
