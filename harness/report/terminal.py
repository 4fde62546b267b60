"""What `coze-harness report` shows on a terminal: the answer first, then a table that fits, with rich.

Progress goes to stderr: one updating line where stderr is a terminal, one plain line per finished
step where it is not (a CI log, a pipe). The answer and the tables go to stdout.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from types import TracebackType

from rich import box
from rich.console import Console, Group
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..matrix import PLATFORM_TITLES, Capability, Matrix, Mode, Verdict
from .summary import FAMILY, answers, headline

# Verdicts as the terminal writes them: a word short enough for eight columns in 80, and a colour.
SHORT: dict[Verdict, tuple[str, str]] = {
    Verdict.SUPPORTED: ("yes", "bold green"),
    Verdict.WORKAROUND: ("bridge", "yellow"),
    Verdict.ABSENT: ("no", "red"),
    Verdict.BROKEN: ("broken", "bold red"),
    Verdict.UNKNOWN: ("?", "dim"),
    Verdict.NOT_APPLICABLE: ("-", "dim"),
}
LEGEND = (
    "yes supported, no absent, bridge workaround (only through the HTTP bridge), broken (the SDK has it "
    "but the flow fails), ? unknown, - not applicable"
)
CAPABILITY_LABELS: dict[Capability, str] = {
    Capability.TOOL_CALL_EVENT: "tool-call event",
    Capability.TOOL_CALL_FIELDS: "tool calls readable",
    Capability.SUBMIT_METHOD: "submit method",
    Capability.OUTPUTS_IN_ANSWER: "outputs in answer",
    Capability.CALLS_PER_ROUND: "calls per round",
    Capability.ROUNDS: "several rounds",
    Capability.TOOL_ERRORS: "tool errors",
    Capability.INTERRUPT_RESUME: "interrupt & resume",
    Capability.LOCAL_CODE: "LOCAL CODE",
}
MODE_HEADERS: dict[Mode, str] = {
    mode: f"{family.split()[-1].rstrip('s')} {word}".strip() if word else "HTTP bridge"
    for mode, (family, word) in FAMILY.items()
}
MODE_HEADERS[Mode.CHATFLOW] = "chatflow"


def _table(matrix: Matrix, platform: str, modes: Sequence[Mode], title: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    table.add_column("capability", no_wrap=True)
    for mode in modes:
        table.add_column(MODE_HEADERS[mode], justify="center")
    for capability in Capability:
        if capability is Capability.LOCAL_CODE:
            table.add_section()
        style = "bold" if capability is Capability.LOCAL_CODE else ""
        row: list[Text] = [Text(CAPABILITY_LABELS[capability], style=style)]
        for mode in modes:
            cell = matrix.cell(capability, mode, platform)
            row.append(Text(*SHORT[cell.verdict]) if cell is not None else Text(""))
        table.add_row(*row)
    return table


def _fits(console: Console, table: Table) -> bool:
    """Whether the table, drawn at the console's width, keeps every word of its headers and cells whole
    (rich would otherwise cut one with an ellipsis or fold it)."""
    probe = Console(width=console.width, record=True, file=io.StringIO(), color_system=None)
    probe.print(table)
    drawn = probe.export_text()
    words = {word for column in table.columns for text in (column.header, *column.cells) for word in str(text).split()}
    return all(word in drawn for word in words) and "\u2026" not in drawn


def tables(matrix: Matrix, console: Console) -> list[Table]:
    """One table per platform; where that is wider than the console, one per family of modes."""
    label = f" ({matrix.sdk_label})" if matrix.sdk_label else ""
    found: list[Table] = []
    for platform in matrix.platforms:
        modes = matrix.modes(platform)
        if not modes:
            continue
        title = f"{matrix.sdk} {matrix.sdk_version}{label} on {PLATFORM_TITLES[platform]}"
        whole = _table(matrix, platform, modes, title)
        if _fits(console, whole):
            found.append(whole)
            continue
        families: dict[str, list[Mode]] = {}
        for mode in modes:
            families.setdefault(FAMILY[mode][0] if mode is not Mode.WORKFLOW_BRIDGE else "workflows", []).append(mode)
        for family, members in families.items():
            found.append(_table(matrix, platform, members, f"{title}: {family}"))
    return found


def print_answer(matrix: Matrix, console: Console) -> None:
    """The one-line conclusion per platform (soft-wrapped: a log keeps it on one line)."""
    for answer in answers(matrix):
        console.print(answer.sentence(), soft_wrap=True, markup=False, highlight=False)


def print_summary(matrix: Matrix, console: Console) -> None:
    """The answer first, then the matrix as tables that fit the console, then the legend."""
    console.print(headline(matrix), style="bold", soft_wrap=True, markup=False, highlight=False)
    print_answer(matrix, console)
    found = tables(matrix, console)
    if found:
        console.print()
        console.print(Group(*found))
        console.print(f"Legend: {LEGEND}.", markup=False, highlight=False, style="dim")


class ProgressView:
    """Progress of the probes on stderr.

    `status(text)`: a step started; a terminal shows it on its one updating line, a log leaves it out.
    `line(text)`: a step finished (or the simulator started); a terminal shows it on the same line, a log
    gets it as a line of its own. Quiet: nothing at all.
    """

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self._live: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressView:
        if not self.quiet and self.console.is_terminal:
            self._live = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._live.start()
            self._task = self._live.add_task("starting the simulator", total=None)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def status(self, text: str) -> None:
        if self._live is not None and self._task is not None:
            self._live.update(self._task, description=text)

    def line(self, text: str) -> None:
        if self.quiet:
            return
        if self._live is not None and self._task is not None:
            self._live.update(self._task, description=text)
        else:
            self.console.print(text, soft_wrap=True, markup=False, highlight=False)
