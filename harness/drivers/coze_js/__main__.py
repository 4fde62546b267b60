"""`python -m harness.drivers.coze_js install VERSION...` puts @coze/api releases in the driver's cache.

`where VERSION` prints the folder of an installed release (exit 1 if it is not installed); `check`
says whether node and npm are usable. The cache is `$COZE_HARNESS_CACHE/coze-js/` when that is set.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import DriverUnavailable
from . import cache_root, cached, check_version, find_node, install, install_command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.drivers.coze_js", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    install_cmd = commands.add_parser("install", help="install @coze/api releases into the cache with npm")
    install_cmd.add_argument("versions", nargs="+", metavar="VERSION", help="exact releases, e.g. 1.3.9")
    where_cmd = commands.add_parser("where", help="print the cache folder of an installed release")
    where_cmd.add_argument("version", metavar="VERSION")
    commands.add_parser("check", help="check that node (18+) and npm are on PATH")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            tools = find_node(need_npm=True)
            print(f"node {tools.node_version} at {tools.node}, npm at {tools.npm}; cache {cache_root()}")
            return 0
        if args.command == "where":
            found = cached(check_version(args.version))
            if found is None:
                print(f"@coze/api {args.version} is not installed: {install_command(args.version)}", file=sys.stderr)
                return 1
            print(found)
            return 0
        for version in args.versions:
            check_version(version)
        for version in args.versions:
            print(f"@coze/api {version}: {install(version)}")
        return 0
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DriverUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
