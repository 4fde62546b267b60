"""`coze-harness scenario validate | schema`: check scenario files before serving them; print their schema.

`validate FILE...` loads each file exactly as `serve --scenarios` would (the same loader, the same
messages) and prints one line per problem: the file, the place inside it and what is wrong. Beyond the
JSON Schema it checks what only the loader knows: placeholders that name nothing (`{{ answer.NAME }}`
with no earlier node saved as NAME, `{{ output.KEY }}` with no earlier tool call), node order,
duplicate `save_as` names, and ids used twice (among the files given, and against the built-in
catalogue the simulator serves beside them unless `--no-builtin`).

Exit status: 0 when every file is valid, 2 when any has a problem (or none was given).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simulators.coze import BUILTIN_DIR, BotScenario, ScenarioFileError, WorkflowScenario
from simulators.coze import load_scenario_file as load_file

EXIT_OK, EXIT_INVALID = 0, 2
SUFFIXES = (".yaml", ".yml", ".json")


def _files(paths: list[str]) -> tuple[list[Path], list[str]]:
    """The files to check (a folder stands for its scenario files) and the paths that are neither."""
    files: list[Path] = []
    problems: list[str] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
            if not found:
                problems.append(f"{path}: a folder with no scenario files ({', '.join(SUFFIXES)})")
            files += found
        elif path.exists():
            files.append(path)
        else:
            problems.append(f"{path}: no such file")
    return files, problems


def _builtin_ids() -> dict[str, Path]:
    ids: dict[str, Path] = {}
    for path in sorted(p for p in BUILTIN_DIR.iterdir() if p.suffix in SUFFIXES):
        try:
            ids[load_file(path).id] = path.resolve()
        except ScenarioFileError:  # a broken built-in is reported when it is validated itself
            continue
    return ids


def _describe(scenario: BotScenario | WorkflowScenario) -> str:
    if isinstance(scenario, BotScenario):
        return f"bot {scenario.name} {scenario.id}"
    return f"{scenario.kind} {scenario.name} {scenario.id}, {len(scenario.nodes)} nodes"


def _cmd_validate(args: argparse.Namespace) -> int:
    files, problems = _files(args.files)
    used: dict[str, Path] = {} if args.no_builtin else _builtin_ids()
    valid = 0
    for path in files:
        try:
            scenario = load_file(path)
        except ScenarioFileError as exc:
            problems += exc.problems
            continue
        other = used.get(scenario.id)
        if other is not None and other != path.resolve():
            problems.append(f"{path}: at id: {scenario.id} is already used by {other}")
            continue
        used[scenario.id] = path.resolve()
        valid += 1
        if not args.quiet:
            print(f"ok  {path}: {_describe(scenario)}")
    for problem in problems:
        print(problem)
    if problems:
        print(f"coze-harness scenario validate: {len(problems)} problem(s); {valid} file(s) valid", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    from simulators.coze import scenario_schema

    text = scenario_schema()
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(args.out).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"coze-harness scenario schema: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID
    print(f"wrote {args.out}")
    return EXIT_OK


def add_scenario_command(commands: Any) -> None:
    """Register `scenario` on the `coze-harness` subcommands."""
    scenario = commands.add_parser("scenario", help="check scenario files; print the JSON Schema editors use")
    actions = scenario.add_subparsers(dest="scenario_command", required=True, metavar="ACTION")

    validate = actions.add_parser(
        "validate",
        help="check scenario files as serve would load them; one line per problem, exit 2 if any",
        description="Load each scenario file (or each one in a folder) as `serve --scenarios` would and print "
        "every problem as FILE: at PLACE: WHAT. Exit 0 when all are valid, 2 otherwise.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="scenario files (YAML or JSON) or folders of them")
    validate.add_argument(
        "--no-builtin",
        action="store_true",
        help="do not check ids against the built-in catalogue (for files served with serve --no-builtin)",
    )
    validate.add_argument("--quiet", "-q", action="store_true", help="print problems only")
    validate.set_defaults(func=_cmd_validate)

    schema = actions.add_parser(
        "schema",
        help="print the JSON Schema of scenario files (for an editor's `# yaml-language-server: $schema=` line)",
    )
    schema.add_argument("--out", default=None, metavar="FILE", help="write it to FILE instead of stdout")
    schema.set_defaults(func=_cmd_schema)
