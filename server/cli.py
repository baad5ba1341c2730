"""`actionhost` command line: the entry point installed by pyproject.toml."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actionhost",
        description="Run Auth0-compatible JavaScript Actions in V8 isolates.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("version", help="print the version and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "version":
        from importlib.metadata import version

        print(version("actionhost"))
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
