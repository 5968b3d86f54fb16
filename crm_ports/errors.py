"""The one exception the core raises for bad input, and the two ways a synthesis ends
that are not the input's fault.

Errors stay values until the edge: the catalogue loader, lab loader, option parser and
resolver all raise `InputError`, and only the CLI turns it into one line and exit status 2.
Carrying file, entry and field separately lets every layer say *where* without formatting.
A failed worker process (`SynthesisError`) and a termination signal (`Terminated`) are
one line too, with exit status 1 and 128 + the signal's number.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input, located by file (and line when known), entry and field."""

    def __init__(
        self,
        file: str,
        entry: str,
        field: str,
        message: str,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.entry = entry
        self.field = field
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return located(self.file, self.entry, self.field, self.message, self.line)


def located(file: str, entry: str, field: str, message: str, line: int | None = None) -> str:
    """`file:line: entry: field 'name': message`, on one line: how an error, and a warning
    about the same input, say where they are."""
    parts = [f"{file}:{line}" if line is not None else file]
    if entry:
        parts.append(entry)
    if field:
        parts.append(f"field '{field}'")
    text = ": ".join(parts) + ": " + message
    # One line, whatever the message carried (YAML parser messages have newlines).
    return " ".join(text.split())


class SynthesisError(RuntimeError):
    """Synthesis failed for a reason that is not the input's (a worker process crashed or
    was killed): the CLI and the cdktf.json app print it as one line, exit status 1."""


class Terminated(BaseException):
    """A termination signal arrived (`crm_ports.synth.interrupts`). A BaseException, as
    KeyboardInterrupt is, so that no `except Exception` on the way takes it for an error
    of its own. Here, not there, so the CLI can catch it without loading `signal`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        import signal

        return f"terminated by {signal.Signals(self.signum).name}"
