"""The CDKTF app `cdktf.json` runs: `python -m crm_ports.app` synthesizes the labs of
CRM_PORTS_LABS (a path-separated list of lab files), else the labs of the project file
(`crm-ports.yaml` in the working directory or above, with its catalogue), else the default
labs, into CDKTF_OUTDIR, as `crm-ports synth` does (`crm_ports.synth`).

Progress goes to standard output, which cdktf-cli shows as information (standard error
reads as an error there); bad input is one line on standard error and exit 2, a failed
worker process one line and exit 1, an interruption (Ctrl-C, SIGTERM, SIGHUP) one line and
128 + the signal's number, after the workers are stopped and the scratch is gone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

from crm_ports.catalogue.load import load_catalogue
from crm_ports.constructs.cdk import flavour
from crm_ports.errors import InputError, SynthesisError, Terminated
from crm_ports.lab.backend import refuse_state_inside
from crm_ports.lab.project import find_project
from crm_ports.synth.build import synth_app
from crm_ports.synth.interrupts import terminated_as_exception
from crm_ports.synth.plan import labs_from_environment, plan_stacks
from crm_ports.synth.shards import job_count


def main() -> None:
    """Entry point of `cdktf.json`'s app: cdktf-cli sets CDKTF_OUTDIR."""
    try:
        with terminated_as_exception():
            _main()
    except SynthesisError as exc:
        _exit(str(exc), 1)
    except KeyboardInterrupt:
        _exit("interrupted", 130)
    except Terminated as exc:
        _exit(str(exc), exc.exit_status)


def _exit(message: str, status: int) -> NoReturn:
    from crm_ports.cli import fail  # click loads only at the edge

    fail(message)
    sys.exit(status)


def _main() -> None:
    outdir = Path(os.environ.get("CDKTF_OUTDIR", "cdktf.out"))
    try:
        flavour()  # a bad CRM_PORTS_CDK is bad input, found before any work
        refuse_state_inside(outdir)
        project = find_project(Path.cwd())  # cdktf-cli runs the app beside cdktf.json
        catalogue = load_catalogue(project.catalogue_path if project is not None else None)
        stacks = plan_stacks(labs_from_environment(project), catalogue)
        jobs = job_count(len(stacks))  # a bad CRM_PORTS_JOBS fails here
    except InputError as exc:
        _exit(str(exc), 2)
    outdir.mkdir(parents=True, exist_ok=True)
    synth_app(stacks, outdir, progress=lambda line: print(line, flush=True), jobs=jobs)


if __name__ == "__main__":
    main()
