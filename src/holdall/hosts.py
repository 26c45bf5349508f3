"""``/etc/hosts`` lines that make every bucket host (``<bucket>.<domain>``) resolve on this machine.

glibc resolves no ``*.localhost`` name (browsers and curl do, Python's and Go's clients do not), so
virtual-host addressing needs one line per bucket. The line also names ``<bucket>.<address>``: the
TOS and COS SDKs, given an endpoint such as ``http://127.0.0.1:9000``, put the bucket before the
address. They are kept between two marker lines, which
``holdall hosts --write`` replaces and nothing else touches.
"""

from __future__ import annotations

from collections.abc import Iterable

BEGIN = "# holdall bucket hosts: begin (written by holdall hosts --write)"
END = "# holdall bucket hosts: end"


def host_lines(buckets: Iterable[str], domain: str, address: str) -> list[str]:
    return [f"{address}\t{name}.{domain} {name}.{address}" for name in sorted(set(buckets))]


def with_block(text: str, lines: list[str]) -> str:
    """``text`` (a hosts file) with holdall's block replaced by ``lines``, or added at its end."""
    kept: list[str] = []
    inside = False
    for line in text.splitlines():
        if line == BEGIN:
            inside = True
        elif line == END and inside:
            inside = False
        elif not inside:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join([*kept, "", BEGIN, *lines, END]).lstrip("\n") + "\n"
