"""A realistic local tool set: turn a narration script into a video-editor draft on the user's disk.

A common reason to run a Coze tool locally is that its result must land on the user's machine: here,
a project file a desktop video editor opens. The bot (or a workflow, through the HTTP bridge) first
calls `split_script` to cut a script into timed caption clips, then `make_draft` to lay those clips
out on text tracks and write the project file.

Writing files on behalf of a remote caller is the dangerous part, so `make_draft`:

- writes only inside one sandbox folder, which the user chooses: `configure(folder)` or the
  `COZE_HARNESS_DRAFT_DIR` environment variable. There is deliberately no default folder: a tool that
  silently writes into whatever directory the process happened to start in is how files end up in
  the wrong place, so an unset sandbox is an error that says how to set it;
- takes a draft *name*, never a path: a name that is absolute, holds a path separator, `..`, a NUL,
  starts with a dot or is a reserved device name is refused before anything touches the disk;
- writes atomically (a temporary file in the same folder, flushed, then renamed over the target), so
  an editor watching the folder never reads half a project and a failed write leaves nothing behind;
- refuses to replace an existing draft unless asked (`overwrite`), and answers with paths relative to
  the sandbox, so the remote side never learns where the user's files live.

The arguments are pydantic v2 models, so the runner, the bridge and the OpenAPI plugin document all
get the same schema and the same validation (non-negative times, non-empty text, bounded sizes).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import textwrap
import uuid
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from harness.tools import ToolError, ToolRegistry

__all__ = [
    "DRAFT_DIR_ENV",
    "DRAFT_FORMAT",
    "MAX_CLIPS",
    "Clip",
    "DraftRequest",
    "DraftSummary",
    "build_project",
    "check_draft_name",
    "configure",
    "draft_dir",
    "make_draft",
    "split_script",
    "tools",
]

DRAFT_DIR_ENV = "COZE_HARNESS_DRAFT_DIR"
"""The environment variable naming the sandbox folder, read at each call unless `configure` set one."""

DRAFT_FORMAT = "coze-harness.draft"
DRAFT_FORMAT_VERSION = 1
DRAFT_SUFFIX = ".json"

MAX_CLIPS = 500
MAX_CLIP_CHARS = 500
MAX_SCRIPT_CHARS = 20_000
MAX_CLIP_SECONDS = 600.0
MAX_TIMELINE_SECONDS = 6 * 3600.0
MIN_CLIP_SECONDS = 0.001
"""One millisecond: shorter clips vanish when rounded to the editor's microseconds."""
MAX_NAME_CHARS = 64

MICROSECONDS = 1_000_000
CANVAS_SIZES: dict[str, tuple[int, int]] = {"9:16": (1080, 1920), "16:9": (1920, 1080), "1:1": (1080, 1080)}

_NAME_CHARS = re.compile(r"^\w[\w .\-]*$")
_RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"COM{n}" for n in range(1, 10)] + [f"LPT{n}" for n in range(1, 10)]
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?\u2026])\s+|(?<=[\u3002\uff01\uff1f])|\n+")


def _umask() -> int:
    """The process umask; reading it means setting it, so it is set back at once (import time only)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_READING_UNIT = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_FILE_MODE = 0o666 & ~_umask()
"""What `open()` would create: 0666 less the process umask, read once at import."""
_ID_NAMESPACE = uuid.UUID("6f1c3c55-4a0e-4d5e-9a43-2f8d1c0b7e21")

tools = ToolRegistry()
"""The tools of this module; `coze-harness bridge serve --module examples.draft_tools` serves them."""


# --- the sandbox ----------------------------------------------------------------------------------

_configured_dir: Path | None = None


def configure(folder: str | os.PathLike[str] | None) -> None:
    """Choose the sandbox folder in code (it wins over `COZE_HARNESS_DRAFT_DIR`); None forgets the choice.

    The folder must exist already: creating folders because a setting was mistyped would hide the
    mistake until someone wonders where the drafts went.
    """
    global _configured_dir
    if folder is None:
        _configured_dir = None
        return
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        raise NotADirectoryError(f"draft folder {path} does not exist or is not a folder")
    _configured_dir = path


def draft_dir() -> Path:
    """The sandbox folder, absolute and resolved; a ToolError the caller can read when there is none."""
    if _configured_dir is not None:
        folder = _configured_dir
    else:
        raw = os.environ.get(DRAFT_DIR_ENV, "").strip()
        if not raw:
            raise ToolError(
                f"no draft folder is set: the user must set {DRAFT_DIR_ENV} to an existing folder "
                "(or call examples.draft_tools.configure) before drafts can be written",
                code="draft_dir_not_set",
            )
        folder = Path(raw).expanduser().resolve()
    if not folder.is_dir():
        raise ToolError(
            f"the draft folder set by the user does not exist or is not a folder ({DRAFT_DIR_ENV})",
            code="draft_dir_missing",
        )
    return folder


def check_draft_name(name: str) -> str:
    """A draft name is a file name inside the sandbox, never a path: refuse anything that could leave it.

    Each refusal says which rule the name broke, so a bot (or the person reading its answer) can fix
    the call instead of guessing. Names are checked against both POSIX and Windows path rules, because
    the same tool code runs on either.
    """
    if "\x00" in name:
        raise ValueError("draft name must not contain a NUL character")
    if not name.strip():
        raise ValueError("draft name must not be empty")
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise ValueError(f"draft name {name!r} is an absolute or drive path; give a plain name such as 'episode-1'")
    if ".." in name:
        raise ValueError(f"draft name {name!r} must not contain '..': drafts stay inside the draft folder")
    if "/" in name or "\\" in name:
        raise ValueError(f"draft name {name!r} must not contain a path separator ('/' or '\\')")
    if name.startswith("."):
        raise ValueError(f"draft name {name!r} must not start with '.'")
    if name != name.strip() or name.endswith("."):
        raise ValueError(f"draft name {name!r} must not start or end with a space, nor end with '.'")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"draft name must be at most {MAX_NAME_CHARS} characters, not {len(name)}")
    if not _NAME_CHARS.match(name):
        raise ValueError(f"draft name {name!r} may use only letters, digits, spaces, '_', '-' and '.'")
    if name.split(".", 1)[0].upper() in _RESERVED_NAMES:
        raise ValueError(f"draft name {name!r} is a reserved device name on Windows")
    return name


# --- the models -----------------------------------------------------------------------------------


class Clip(BaseModel):
    """One caption on the timeline: its text and when it shows, in seconds from the start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=MAX_CLIP_CHARS, description="the caption text, not blank")
    start: float = Field(ge=0, le=MAX_TIMELINE_SECONDS, allow_inf_nan=False, description="seconds from the start")
    duration: float = Field(
        ge=MIN_CLIP_SECONDS, le=MAX_CLIP_SECONDS, allow_inf_nan=False, description="how long it shows, in seconds"
    )

    @model_validator(mode="after")
    def _fits(self) -> Clip:
        if not self.text.strip():
            raise ValueError("text must not be blank")
        if self.start + self.duration > MAX_TIMELINE_SECONDS:
            raise ValueError(f"the clip ends after the {MAX_TIMELINE_SECONDS:g} s a draft may last")
        return self


def _decode_json_text(value: Any) -> Any:
    """Accept the clip list as JSON text too: a bot that hands one tool's output to the next passes text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("clips must be a list of clips, or JSON text of one") from None
    return value


DraftName = Annotated[
    str,
    AfterValidator(check_draft_name),
    Field(
        description="the draft's file name inside the user's draft folder, without a path or extension",
        examples=["episode-1"],
    ),
]
ClipList = Annotated[
    list[Clip],
    BeforeValidator(_decode_json_text),
    Field(min_length=1, max_length=MAX_CLIPS, description="the captions, e.g. split_script's output"),
]


class DraftRequest(BaseModel):
    """What `make_draft` needs: a name, the clips, and the canvas."""

    model_config = ConfigDict(extra="forbid", title="make_draft")

    name: DraftName
    clips: ClipList
    aspect_ratio: Literal["9:16", "16:9", "1:1"] = Field("9:16", description="the canvas shape")
    fps: Literal[24, 25, 30, 60] = Field(30, description="frames per second of the project")
    overwrite: bool = Field(False, description="replace a draft of the same name instead of refusing")


class DraftSummary(BaseModel):
    """What `make_draft` wrote: enough for a bot to tell the user, nothing about where their files live."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(description="the file written, relative to the draft folder")
    name: str
    clips: int
    tracks: int
    duration_us: int = Field(description="the timeline's length in microseconds")
    duration_seconds: float


# --- the project file -----------------------------------------------------------------------------


def _micros(seconds: float) -> int:
    return round(seconds * MICROSECONDS)


def _id(name: str, *parts: object) -> str:
    """Stable ids: the same request gives the same bytes, so re-running a bot does not churn the file."""
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join([name, *map(str, parts)]))).upper()


def build_project(request: DraftRequest) -> dict[str, Any]:
    """The project document: text materials, and tracks of segments timed in microseconds.

    The layout follows desktop editors' draft files: each clip's text is a material, each placement
    a segment with a `target_timerange` (`start`, `duration`), and clips that overlap go on further
    tracks, because one track cannot show two segments at once.
    """
    width, height = CANVAS_SIZES[request.aspect_ratio]
    materials = [
        {"id": _id(request.name, "text", index), "type": "text", "content": clip.text}
        for index, clip in enumerate(request.clips)
    ]
    tracks: list[dict[str, Any]] = []
    track_ends: list[int] = []
    order = sorted(range(len(request.clips)), key=lambda index: (_micros(request.clips[index].start), index))
    for index in order:
        clip = request.clips[index]
        start, duration = _micros(clip.start), _micros(clip.duration)
        lane = next((n for n, end in enumerate(track_ends) if end <= start), None)
        if lane is None:
            lane = len(tracks)
            tracks.append({"id": _id(request.name, "track", lane), "type": "text", "segments": []})
            track_ends.append(0)
        tracks[lane]["segments"].append(
            {
                "id": _id(request.name, "segment", index),
                "material_id": materials[index]["id"],
                "target_timerange": {"start": start, "duration": duration},
            }
        )
        track_ends[lane] = start + duration
    return {
        "format": DRAFT_FORMAT,
        "format_version": DRAFT_FORMAT_VERSION,
        "id": _id(request.name, "draft"),
        "name": request.name,
        "fps": request.fps,
        "canvas_config": {"ratio": request.aspect_ratio, "width": width, "height": height},
        "duration": max(track_ends, default=0),
        "materials": {"texts": materials},
        "tracks": tracks,
    }


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable where the platform allows (POSIX); best effort elsewhere."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _exists_error(filename: str) -> ToolError:
    return ToolError(
        f"a draft named {filename} already exists; choose another name or pass overwrite=true",
        code="draft_exists",
    )


def _publish(temporary: Path, target: Path, *, overwrite: bool) -> None:
    """Move the finished temporary file to its name in one step.

    `os.replace` is atomic but clobbers; without `overwrite`, a hard link is the atomic way to create
    a name only if it is free. Folders without hard links (FAT, some network shares) fall back to
    checking first, which can race only with another writer of the same draft.
    """
    if overwrite:
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise _exists_error(target.name) from None
    except OSError:
        if os.path.lexists(target):
            raise _exists_error(target.name) from None
        os.replace(temporary, target)


def _write_atomically(folder: Path, filename: str, data: bytes, *, overwrite: bool) -> None:
    """Write `data` to `folder/filename` so that readers see the old file or the new one, never a part."""
    target = folder / filename
    handle, temporary_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".tmp", dir=folder)
    temporary = Path(temporary_name)
    try:
        if os.name == "posix":
            os.fchmod(handle, _FILE_MODE)  # mkstemp makes the file private (0600); a draft is a document
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        _publish(temporary, target, overwrite=overwrite)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()  # gone already after a rename; after a link or a failure, the leftover
    _fsync_folder(folder)


# --- the tools ------------------------------------------------------------------------------------


def _reading_seconds(text: str, words_per_minute: int) -> float:
    """Narration time: one unit per word, half a unit per CJK character (read about twice as fast).

    Punctuation on its own is not read aloud, so a token without a letter or digit counts nothing.
    """
    units = 0.0
    for token in _READING_UNIT.findall(text):
        if _CJK_CHAR.fullmatch(token):
            units += 0.5
        elif any(char.isalnum() for char in token):
            units += 1.0
    return units * 60.0 / words_per_minute


@tools.tool
def split_script(
    text: Annotated[str, Field(min_length=1, max_length=MAX_SCRIPT_CHARS)],
    words_per_minute: Annotated[int, Field(ge=60, le=400)] = 160,
    max_clip_chars: Annotated[int, Field(ge=10, le=MAX_CLIP_CHARS)] = 80,
    min_clip_seconds: Annotated[float, Field(ge=0.5, le=10)] = 1.0,
) -> list[Clip]:
    """Cut a narration script into timed caption clips, one per sentence, back to back from 0 s.

    Call it before make_draft and pass its output on as make_draft's clips. Long sentences are
    wrapped at word boundaries; each clip lasts as long as it takes to read aloud.

    Args:
        text: the script, in any language
        words_per_minute: reading speed of the narration
        max_clip_chars: longest caption, in characters
        min_clip_seconds: shortest time a caption stays on screen
    """
    pieces: list[str] = []
    for sentence in _SENTENCE_BREAK.split(text):
        sentence = " ".join(sentence.split())
        if sentence:
            pieces += textwrap.wrap(sentence, width=max_clip_chars, break_on_hyphens=False) or [sentence]
    if not pieces:
        raise ToolError("the script has no words to split", code="empty_script")
    if len(pieces) > MAX_CLIPS:
        raise ToolError(
            f"the script makes {len(pieces)} clips, more than the {MAX_CLIPS} a draft holds", code="too_long"
        )
    clips: list[Clip] = []
    start_ms = 0
    for piece in pieces:
        duration_ms = max(round(min_clip_seconds * 1000), round(_reading_seconds(piece, words_per_minute) * 1000))
        clips.append(Clip(text=piece, start=start_ms / 1000, duration=duration_ms / 1000))
        start_ms += duration_ms
    return clips


@tools.tool
def make_draft(request: DraftRequest) -> DraftSummary:
    """Write a video-editor draft (captions on text tracks) into the user's draft folder.

    Give it a plain name and the clips (split_script's output). It never writes outside the folder
    the user chose and refuses to replace an existing draft unless overwrite is true.
    """
    folder = draft_dir()
    filename = f"{request.name}{DRAFT_SUFFIX}"
    if os.path.dirname(os.path.normpath(folder / filename)) != str(folder):
        raise ToolError(f"draft name {request.name!r} does not stay inside the draft folder", code="outside_sandbox")
    if not request.overwrite and os.path.lexists(folder / filename):
        raise _exists_error(filename)
    project = build_project(request)
    data = (json.dumps(project, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    try:
        _write_atomically(folder, filename, data, overwrite=request.overwrite)
    except OSError as exc:
        raise ToolError(f"could not write {filename}: {exc.strerror or exc}", code="write_failed") from None
    duration: int = project["duration"]
    return DraftSummary(
        path=filename,
        name=request.name,
        clips=len(request.clips),
        tracks=len(project["tracks"]),
        duration_us=duration,
        duration_seconds=duration / MICROSECONDS,
    )
