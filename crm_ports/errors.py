"""The one exception the core raises for bad input.

Errors stay values until the edge: the catalogue loader, lab loader, option parser and
resolver all raise `InputError`, and only the CLI turns it into one line and exit status 2.
Carrying file, entry and field separately lets every layer say *where* without formatting.
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
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        parts = [where]
        if self.entry:
            parts.append(self.entry)
        if self.field:
            parts.append(f"field '{self.field}'")
        text = ": ".join(parts) + ": " + self.message
        # One line, whatever the message carried (YAML parser messages have newlines).
        return " ".join(text.split())
