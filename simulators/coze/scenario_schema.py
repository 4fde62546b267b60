"""The JSON Schema of scenario files, generated from the pydantic models in `scenarios.py`.

The schema ships with the package as `simulators/scenario.schema.json` so that editors can check a
scenario file as it is typed: a YAML file whose first line is

    # yaml-language-server: $schema=PATH/TO/scenario.schema.json

is checked by any editor using the YAML language server (VS Code's YAML extension, for one). The schema
says what the models' field types, enums and bounds say; what only the loader knows (placeholders that
name nothing, an `end` node that is not last, duplicate `save_as` names) is checked by
`coze-harness scenario validate FILE...`.

The shipped file is generated, never edited: after changing a model, regenerate it with

    python -m simulators.coze.scenario_schema

(`--check` exits 1 when the shipped file differs from the models, as a test does).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from .scenarios import Scenario

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "scenario.schema.json"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
REGENERATE = "python -m simulators.coze.scenario_schema"


def scenario_json_schema() -> dict[str, Any]:
    """The schema of one scenario file (a bot, a workflow or a chatflow, told apart by `kind`)."""
    generated = TypeAdapter(Scenario).json_schema(mode="validation")
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "coze-harness scenario file",
        "description": "A bot (kind: bot), workflow (kind: workflow) or chatflow (kind: chatflow) the coze-harness "
        "simulator serves. Generated from simulators/coze/scenarios.py; see docs/scenarios.md. Placeholders and "
        f"node order are checked by `coze-harness scenario validate`. Regenerate with `{REGENERATE}`.",
        **generated,
    }


def render() -> str:
    """The schema as the shipped file holds it: indented JSON ending in a newline."""
    return json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.coze.scenario_schema", description="(re)generate simulators/scenario.schema.json"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the shipped file differs; write nothing")
    parser.add_argument("--out", type=Path, default=SCHEMA_PATH, help=f"where to write (default {SCHEMA_PATH})")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} differs from the scenario models; regenerate it with `{REGENERATE}`", file=sys.stderr)
            return 1
        print(f"{args.out} matches the scenario models")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
