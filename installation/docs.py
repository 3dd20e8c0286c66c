"""Generated parts of the README, so the reference never drifts from the code.

README.md holds blocks between `<!-- BEGIN GENERATED: name -->` and
`<!-- END GENERATED: name -->`; `installation docs` rewrites them from the show schema, the
parameter registry and the CLI, and `installation docs --check` (run by the tests) fails when
they are stale. Other modules add generators to GENERATORS.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from installation.errors import UserError
from installation.params import REGISTRY

# A generator gets the CLI's parser (for the CLI reference; cli.py passes it in, so this
# module never imports cli.py) and returns the block's Markdown.
Generator = Callable[[argparse.ArgumentParser], str]
GENERATORS: dict[str, Generator] = {}


def generator(name: str) -> Callable[[Generator], Generator]:
    def register(fn: Generator) -> Generator:
        GENERATORS[name] = fn
        return fn

    return register


def _type_name(annotation: object) -> str:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in typing.get_args(annotation))
    return _plain_type_name(annotation)


def _plain_type_name(annotation: object) -> str:
    text = repr(annotation) if not isinstance(annotation, type) else annotation.__name__
    text = re.sub(r"typing\.|annotated_types\.|<class '|'>", "", text)
    text = re.sub(
        r"\binstallation(?:\.\w+)*\.(\w+)", r"\1", text
    )  # MidiDevice, not its module path
    text = re.sub(r"Annotated\[int, Gt\(gt=0\)\]", "int>0", text)
    literal = (
        typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else None
    )
    return " \\| ".join(map(str, literal)) if literal else text.replace("|", "\\|")


@generator("show-reference")
def show_reference(cli: argparse.ArgumentParser) -> str:
    from installation.config.show import Show

    lines = []
    for section, field in Show.model_fields.items():
        if field.exclude:
            continue
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            lines += [
                f"**`{section}:`**",
                "",
                "| key | type | default | meaning |",
                "|---|---|---|---|",
            ]
            for key, sub in model.model_fields.items():
                default = sub.get_default(call_default_factory=True)
                lines.append(
                    f"| `{key}` | {_type_name(sub.annotation)} | `{default}` | {sub.description or ''} |"
                )
            lines.append("")
        else:
            lines += [f"**`{section}:`** {field.description or ''}", ""]
    return "\n".join(lines).rstrip() + "\n"


@generator("parameters")
def parameter_table(cli: argparse.ArgumentParser) -> str:
    lines = [
        "| name | OSC address | range | default | unit | smoothing s | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in REGISTRY.params.values():
        rng = "0 or 1" if p.kind == "bool" else f"{p.minimum:g} .. {p.maximum:g}"
        lines.append(
            f"| `{p.name}` | `{p.address}` | {rng} | {p.default:g} | {p.unit} | {p.smoothing:g} | {p.description} |"
        )
    lines += ["", "| action | OSC address | meaning |", "|---|---|---|"]
    for a in REGISTRY.actions.values():
        where = "" if a.remote else " (keyboard only)"
        lines.append(f"| `{a.name}` | `{a.address}` | {a.description}{where} |")
    return "\n".join(lines) + "\n"


@generator("cli-reference")
def cli_reference(cli: argparse.ArgumentParser) -> str:
    """A table per subcommand, built from argparse's actions (stable across Pythons, unlike
    --help text)."""
    sub = next(a for a in cli._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    blocks = []
    for name, p in sub.choices.items():
        rows = []
        for action in p._actions:
            if isinstance(action, argparse._HelpAction) or action.dest in ("verbose", "quiet"):
                continue
            flag = ", ".join(action.option_strings) or action.dest.upper()
            if action.option_strings and action.nargs != 0:
                flag += " " + (action.metavar or action.dest.upper())
            rows.append(f"| `{flag}` | {(action.help or '').replace('|', '/')} |")
        table = "\n".join(["| argument | meaning |", "|---|---|", *rows]) if rows else ""
        blocks.append(f"**`installation {name}`**: {helps.get(name, '')}\n\n{table}".rstrip())
    return "\n\n".join(blocks) + "\n"


@generator("osc-addresses")
def osc_addresses(cli: argparse.ArgumentParser) -> str:
    from installation.control.osc.space import AddressSpace
    from installation.control.osc.table import readme_block

    return readme_block(AddressSpace(REGISTRY))


def render(readme: str, cli: argparse.ArgumentParser) -> str:
    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise KeyError(f"README names an unknown generated block {name!r}")
        return f"<!-- BEGIN GENERATED: {name} -->\n{GENERATORS[name](cli)}<!-- END GENERATED: {name} -->"

    return re.sub(
        r"<!-- BEGIN GENERATED: ([\w-]+) -->\n.*?<!-- END GENERATED: \1 -->",
        fill,
        readme,
        flags=re.S,
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--check", action="store_true", help="exit 1 if README.md's generated blocks are stale"
    )
    p.add_argument(
        "--readme",
        type=Path,
        default=Path("README.md"),
        help="README to update (default: ./README.md, run from the checkout)",
    )


def cmd_docs(args: argparse.Namespace, cli: argparse.ArgumentParser) -> int:
    path = args.readme
    try:
        old = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(
            f"{path}: cannot read it ({exc}); run from the checkout or pass --readme"
        ) from None
    new = render(old, cli)
    if args.check:
        if new != old:
            sys.stderr.write(f"{path} is stale: run `installation docs` to regenerate it\n")
            return 1
        return 0
    if new != old:
        path.write_text(new, encoding="utf-8")
    return 0
