"""The `burrow` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from burrow import __version__


def _cmd_bindings(args: argparse.Namespace) -> int:
    from burrow.bindings.registry import SELECT_ENV, BindingRegistry

    registry = BindingRegistry.discover()
    if args.json:
        print(
            json.dumps(
                {
                    "bindings": [
                        {
                            "name": b.name,
                            "distribution": b.distribution,
                            "version": b.version,
                            "suffixes": list(b.suffixes),
                            "methods": sorted(b.methods),
                        }
                        for b in registry.bindings.values()
                    ],
                    "errors": [vars(e) for e in registry.errors],
                },
                indent=2,
            )
        )
        return 0
    if not registry.bindings and not registry.errors:
        print(f"no bindings loaded (installed ones may be filtered by {SELECT_ENV})")
    rows = [("NAME", "DISTRIBUTION", "VERSION", "SUFFIXES", "METHODS")]
    rows += [
        (b.name, b.distribution, b.version, " ".join(b.suffixes), " ".join(sorted(b.methods)))
        for b in registry.bindings.values()
    ]
    if registry.bindings:
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            print(
                "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
            )
    for error in registry.errors:
        print(
            f"failed to load binding {error.entry_point!r} ({error.distribution or '?'}): {error.error}"
        )
    return 0


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"burrow {__version__} (protocol 1, Python {sys.version.split()[0]})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `burrow`."""
    parser = argparse.ArgumentParser(prog="burrow", description="Burrow, a polyglot chatops robot.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bindings = commands.add_parser("bindings", help="list the installed language bindings")
    bindings.add_argument("--json", action="store_true", help="machine-readable output")
    bindings.set_defaults(handler=_cmd_bindings)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(handler=_cmd_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `burrow` console script."""
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
