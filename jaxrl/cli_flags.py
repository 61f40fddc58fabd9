"""Command-line flags from dataclasses: one flag per field, its comment as help.

A field ``num_envs: int = 16  # parallel environments per seed`` becomes
``--num-envs INT`` with help "parallel environments per seed (default: 16)".
Booleans take ``true``/``false``; every value is checked by the dataclass
itself once built, so the command line and the Python API refuse the same
values with the same message.
"""

import argparse
import ast
import dataclasses
import inspect
import textwrap
from typing import Any


def field_help(cls: type) -> dict[str, str]:
    """``{field: the comment on its line}`` from ``cls``'s source ('' if none)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            line = lines[node.end_lineno - 1]
            comment = _comment(line)
            found[node.target.id] = comment.removeprefix("traced:").strip()
    return found


def _comment(line: str) -> str:
    """The ``#`` comment of a source line, ignoring ``#`` inside strings."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[i + 1 :].strip()
    return ""


def add_dataclass_flags(
    parser: argparse.ArgumentParser, cls: type, title: str, skip: tuple[str, ...] = ()
) -> None:
    """Add ``--field-name`` for every field of ``cls`` (defaults from ``cls()``)."""
    group = parser.add_argument_group(title)
    defaults, helps = cls(), field_help(cls)
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        default = getattr(defaults, field.name)
        flag = "--" + field.name.replace("_", "-")
        help_text = f"{helps.get(field.name, '')} (default: {default})".strip()
        if isinstance(default, bool):
            group.add_argument(
                flag,
                type=parse_bool,
                default=default,
                metavar="{true,false}",
                help=help_text,
            )
        elif isinstance(default, int | float | str):
            group.add_argument(
                flag,
                type=_parser_for(type(default), flag),
                default=default,
                help=help_text,
                metavar=type(default).__name__.upper(),
            )


def from_args(cls: type, args: argparse.Namespace, **overrides: Any):
    """Build ``cls`` from the parsed flags (fields absent from ``args`` keep
    their defaults)."""
    values = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(cls)
        if hasattr(args, f.name)
    }
    return cls(**{**values, **overrides})


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parser_for(kind: type, flag: str):
    def parse(text: str):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{flag} takes {'an' if kind is int else 'a'} {kind.__name__}, "
                f"got {text!r}"
            ) from None

    return parse
