"""Address prefixes as a review judges them: is this source the whole internet, however
a cloud spells it (`*`, `Internet`, `0.0.0.0/0`, `::/0`, `any`)?

Its own module because the policy checks, the diff's reach report and `why` all ask,
and the diff should not load the check registry to do so.
"""

from __future__ import annotations

INTERNET = frozenset({"*", "internet", "any", "0.0.0.0/0", "::/0"})


def internet_wide(prefix: str) -> bool:
    if prefix.strip().lower() in INTERNET:
        return True
    import ipaddress  # only for a prefix that is not one of the spellings above

    try:
        return ipaddress.ip_network(prefix, strict=False).prefixlen == 0
    except ValueError:
        return False
