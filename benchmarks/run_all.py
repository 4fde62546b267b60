"""Every benchmark once, with default settings, into reports/benchmarks.json (and a summary printed).

    python -m benchmarks.run_all [--chats 1000] [--skip scale]

The scale run opens `--chats` connections at once; on a small machine pass a smaller number.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import harness_speed, scale, throughput
from benchmarks._common import RESULTS, write_section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=1000, help="concurrent chats for the scale run (default 1000)")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["throughput", "scale", "harness_speed"], help="repeatable"
    )
    args = parser.parse_args(argv)
    if "throughput" not in args.skip:
        result = throughput.run()
        print(throughput.report(result), flush=True)
        write_section("throughput", result)
    if "scale" not in args.skip:
        result = scale.run(args.chats)
        print(scale.report(result), flush=True)
        write_section("scale", result)
    if "harness_speed" not in args.skip:
        result = harness_speed.run()
        print(harness_speed.report(result), flush=True)
        write_section("harness_speed", result)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
