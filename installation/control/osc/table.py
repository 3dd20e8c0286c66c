"""The OSC address table as text: `installation osc addresses` prints it, and README.md
holds the same table as the generated block "osc-addresses" (`installation docs` rewrites
it; a test fails when README's copy is stale, so the docs cannot drift from the registry)."""

from __future__ import annotations

from installation.control.osc.space import AddressSpace, Endpoint

_TYPE_NAMES = {"f": "float", "i": "int", "T": "bool", "N": "trigger"}


def _number(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _row(ep: Endpoint) -> tuple[str, ...]:
    if ep.scale == "mapped":
        rng = f"{_number(ep.input[0])}..{_number(ep.input[1])}"
        what = f"arg {ep.arg} -> {ep.target} ({ep.curve}{', inverted' if ep.invert else ''})"
        return ep.address, "float", rng, "", "", what
    if ep.kind == "query":
        return ep.address, "query", "", "", "", ep.description
    rng = "" if ep.minimum is None else f"{_number(ep.minimum)}..{_number(ep.maximum)}"
    return (
        ep.address,
        _TYPE_NAMES.get(ep.tag, ep.tag),
        rng,
        ep.unit,
        _number(ep.default),
        ep.description,
    )


def rows(space: AddressSpace) -> list[tuple[str, ...]]:
    """Parameters (own units), then their /norm twins, actions, queries, custom mappings."""
    order = {
        ("param", "units"): 0,
        ("param", "normalized"): 1,
        ("action", "units"): 2,
        ("query", "units"): 3,
    }
    eps = sorted(
        space.endpoints(), key=lambda ep: (order.get((ep.kind, ep.scale), 4), ep.address, ep.arg)
    )
    return [_row(ep) for ep in eps]


HEADER = ("Address", "Type", "Range", "Unit", "Default", "Description")


def text_table(space: AddressSpace) -> str:
    table = [HEADER, *rows(space)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in table
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def markdown_table(space: AddressSpace) -> str:
    def cells(r: tuple[str, ...]) -> str:
        return (
            "| "
            + " | ".join(c.replace("|", "\\|") if i else f"`{c}`" for i, c in enumerate(r))
            + " |"
        )

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += [cells(r) for r in rows(space)]
    return "\n".join(lines) + "\n"


def readme_block(space: AddressSpace) -> str:
    intro = (
        "Every parameter answers at its address in its own units and at `/norm/...` in 0..1 "
        "(what faders send); a trigger fires on a message with no argument or a value >= 0.5 "
        "(a button's release, 0, does nothing). Patterns such as `/walk/*` or `/norm/{walk,latent}/*` "
        "address several at once.\n\n"
    )
    return intro + markdown_table(space)
