"""Text rules shared by the cloud plans: resource keys and description clean-up."""

from __future__ import annotations

import re
import unicodedata

TAG_PREFIX = "crm-ports:"
# The tags a lab's resources carry. The audit finds a deployed lab by LAB_TAG and pairs
# live groups and rules with planned ones by GROUP_TAG and RULE_TAG, so a key spelled
# differently in one place would lose a deployed lab: each is spelled here only.
LAB_TAG = f"{TAG_PREFIX}lab"
TOPOLOGY_TAG = f"{TAG_PREFIX}topology"
GROUP_TAG = f"{TAG_PREFIX}group"
ROLES_TAG = f"{TAG_PREFIX}roles"
RULE_TAG = f"{TAG_PREFIX}rule"

_SMART = {
    "\u2013": "-",
    "\u2014": "-",
    "\u2018": "",
    "\u2019": "",
    "\u201c": "",
    "\u201d": "",
    "\u2026": "...",
    "\u00a0": " ",
}


def resource_key(*parts: str) -> str:
    """A Terraform resource name from identifiers: `[A-Za-z0-9_-]`, starting with a letter.
    Rule ids use '.' between fields, which becomes '_' (group ids never hold '_')."""
    key = "_".join(re.sub(r"[^A-Za-z0-9_-]", "_", p) for p in parts if p)
    return key if key[:1].isalpha() else f"r_{key}"


def clean(text: str, allowed: str, limit: int) -> str:
    """`text` reduced to the characters a cloud accepts, cut at a word within `limit`."""
    for smart, plain in _SMART.items():
        text = text.replace(smart, plain)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    # a line break or tab is a space between words, not a character to drop
    text = re.sub(r"\s", " ", text)
    text = re.sub(f"[^{allowed}]", "", text)
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 3].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "..."
