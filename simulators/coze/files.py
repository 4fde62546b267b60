"""Uploaded files: `POST /v1/files/upload` bodies streamed to a private temporary folder, bounded.

The platform keeps uploads for three months and allows 512 MB each (reference/coze-openapi/api-markdown/
upload_files.md); a simulator keeps them for its own lifetime and far less of them. Every limit is a
`FileLimits` field (`SimConfig.files`): the size of one file, the bytes kept in all (past it the oldest
files are deleted and their ids answer as unknown), how many files are kept, and how long an upload may
take. A file's bytes go to disk as they arrive and are never held whole in memory; the folder is made
on the first upload and removed by `FileStore.close()`, which `running()` and `serve()` call when the
server stops, and, failing that, by a finalizer when the store is collected or the process exits.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from .auth import TokenGrant
from .envelope import Code, CozeError, bad_request, not_found
from .inputs import InputMessage, parse_json
from .scenarios import WorkflowScenario

MEBIBYTE = 1 << 20
PLATFORM_MAX_FILE_BYTES = 512 * MEBIBYTE
"""The platform's documented limit for one upload (upload_files.md, "文件大小")."""

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "pdf",
        "numbers",
        "csv",
        "jpg",
        "jpg2",
        "jpeg",
        "png",
        "gif",
        "webp",
        "heic",
        "heif",
        "bmp",
        "pcd",
        "tiff",
        "wav",
        "mp3",
        "flac",
        "m4a",
        "aac",
        "ogg",
        "wma",
        "midi",
        "mp4",
        "avi",
        "mov",
        "3gp",
        "3gpp",
        "flv",
        "webm",
        "wmv",
        "rmvb",
        "m4v",
        "mkv",
        "rar",
        "zip",
        "7z",
        "gz",
        "gzip",
        "bz2",
        "cpp",
        "py",
        "java",
        "c",
    }
)
"""The `x-coze-file-ext` list of `/v1/files/upload` in the official OpenAPI spec (coze-openapi.yaml), which is
the upload page's table of formats plus `.jpeg`. Plain `.txt` is not in it."""

QUOTE_BYTES = 64 * 1024
"""How much of a file a scenario's `{{ file.text }}` quotes: its first 64 KiB, decoded as UTF-8."""
QUOTE_BUDGET = 256 * 1024
"""Bytes quoted for all the files of one request together (later files get an empty `text`), so that a
message naming thousands of files cannot make one chat read megabytes into memory."""

_MAX_PARTS = 16
_MAX_FIELD_BYTES = 64 * 1024
_MAX_HEADER_BYTES = 16 * 1024
_MULTIPART_OVERHEAD = 256 * 1024
"""Room for the boundaries, part headers and small fields around the file, on top of the file's own limit."""


class FileLimits(BaseModel):
    """How much the simulator keeps of what clients upload (the platform allows 512 MB per file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_file_bytes: int = Field(
        20 * MEBIBYTE, ge=1, le=PLATFORM_MAX_FILE_BYTES, description="largest upload accepted (bigger: 4000, HTTP 413)"
    )
    max_total_bytes: int = Field(
        200 * MEBIBYTE, ge=1, description="bytes kept for all files; past it the oldest files are deleted"
    )
    max_files: int = Field(1000, ge=1, description="files kept; past it the oldest are deleted")
    upload_timeout_seconds: float = Field(
        60.0, gt=0, le=3600, allow_inf_nan=False, description="time a client has to send a whole upload (408 after)"
    )

    @model_validator(mode="after")
    def _one_file_fits(self) -> FileLimits:
        if self.max_file_bytes > self.max_total_bytes:
            raise ValueError(
                f"max_file_bytes ({self.max_file_bytes}) is more than max_total_bytes ({self.max_total_bytes}): "
                "the largest upload must fit in the store"
            )
        return self


@dataclass(frozen=True)
class StoredFile:
    """An upload: what `wire.file` shows, where its bytes are, and which token may see it."""

    id: str
    file_name: str
    bytes: int
    created_at: int
    content_type: str
    sha256: str
    path: Path
    owner: TokenGrant

    def visible_to(self, grant: TokenGrant) -> bool:
        """Files belong to the account: any unrestricted token sees them all, a scoped token only its own."""
        return grant.unrestricted or grant == self.owner

    def quote(self, max_text_bytes: int = QUOTE_BYTES) -> dict[str, Any]:
        """What a scenario may quote: `{{ file.id }}`, `.name`, `.size`, `.type`, `.sha256` and `.text` (its first
        `max_text_bytes`, at most QUOTE_BYTES, decoded as UTF-8 with replacement characters)."""
        head = b""
        if max_text_bytes > 0:
            try:
                with self.path.open("rb") as handle:
                    head = handle.read(min(max_text_bytes, QUOTE_BYTES))
            except OSError:  # deleted under us (evicted, or the store closed): quote what is known
                head = b""
        return {
            "id": self.id,
            "name": self.file_name,
            "size": self.bytes,
            "type": self.content_type,
            "sha256": self.sha256,
            "text": head.decode("utf-8", errors="replace"),
        }


def _remove(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)


class FileStore:
    """The uploads of one simulator, in a temporary folder of its own; thread-safe.

    The lock guards the index only: bytes are written to a file no one else knows of yet, and only a
    finished upload is entered in the index (and may evict older ones)."""

    def __init__(self, limits: FileLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self._total = 0
        self._folder: Path | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def folder(self) -> Path | None:
        """The temporary folder, once something was uploaded (None before and after `close()`)."""
        return self._folder

    def _ensure_folder(self) -> Path:
        with self._lock:
            if self._folder is None:
                folder = tempfile.mkdtemp(prefix="coze-sim-files-")
                os.chmod(folder, 0o700)
                self._folder = Path(folder)
                # Runs at close(), when the store is collected, or at interpreter exit, whichever is first.
                self._finalizer = weakref.finalize(self, _remove, folder)
            return self._folder

    def close(self) -> None:
        """Delete every file and the folder; the store stays usable (a later upload makes a new folder)."""
        with self._lock:
            finalizer, self._finalizer, self._folder = self._finalizer, None, None
            self._files.clear()
            self._total = 0
        if finalizer is not None:
            finalizer()

    def __len__(self) -> int:
        return len(self._files)

    @property
    def total_bytes(self) -> int:
        return self._total

    def get(self, file_id: str, grant: TokenGrant) -> StoredFile | None:
        """The file, if it is kept and the token may see it (else None: unknown and foreign look the same)."""
        with self._lock:
            found = self._files.get(file_id)
        return found if found is not None and found.visible_to(grant) else None

    def add(self, stored: StoredFile) -> list[StoredFile]:
        """Enter a finished upload; returns the files evicted to make room (their bytes already deleted)."""
        evicted: list[StoredFile] = []
        with self._lock:
            self._files[stored.id] = stored
            self._total += stored.bytes
            while len(self._files) > 1 and (
                self._total > self.limits.max_total_bytes or len(self._files) > self.limits.max_files
            ):
                _, old = self._files.popitem(last=False)
                self._total -= old.bytes
                evicted.append(old)
        for old in evicted:
            old.path.unlink(missing_ok=True)
        return evicted

    def new_path(self, file_id: str) -> Path:
        return self._ensure_folder() / file_id


# --- reading a multipart upload ------------------------------------------------------------------


def _too_large(limit: int) -> CozeError:
    return CozeError(
        Code.BAD_REQUEST,
        f"file is larger than {limit} bytes, the simulator's limit (SimConfig.files.max_file_bytes, serve "
        f"--max-file-bytes; the platform's is {PLATFORM_MAX_FILE_BYTES}); upload a smaller file",
        status=413,
    )


_SAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class _Part:
    headers: dict[str, str]
    disposition: bytes = b""
    name: str = ""
    filename: str | None = None
    size: int = 0


@dataclass
class Upload:
    """A received `file` part: its name, declared type, size and SHA-256 (computed as it streamed in)."""

    file_name: str
    content_type: str
    size: int
    sha256: str = ""


class _UploadReader:
    """Feeds the body to python-multipart's streaming parser and writes the `file` part straight to disk.

    Exactly one part named `file` with a filename is accepted (cozepy sends `files={"file": ...}` in every
    release, and the spec names the form field `file`); other fields are read and dropped, bounded."""

    def __init__(self, target: Path, limit: int) -> None:
        self.target = target
        self.limit = limit
        self.parts: list[_Part] = []
        self.upload: Upload | None = None
        self._field = b""
        self._value = b""
        self._header_bytes = 0
        self._field_bytes = 0
        self._handle: Any = None
        self._digest = hashlib.sha256()
        self.error: CozeError | None = None

    # python-multipart callbacks: they must not raise through the parser, so the first error is kept
    def _fail(self, err: CozeError) -> None:
        if self.error is None:
            self.error = err

    def on_part_begin(self) -> None:
        if len(self.parts) >= _MAX_PARTS:
            self._fail(bad_request(f"the form has more than {_MAX_PARTS} parts; send one part named 'file'"))
        self.parts.append(_Part(headers={}))
        self._header_bytes = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]
        self._count_header(end - start)

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        self._count_header(end - start)

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > _MAX_HEADER_BYTES:
            self._fail(bad_request(f"a form part has more than {_MAX_HEADER_BYTES} bytes of headers"))

    def on_header_end(self) -> None:
        part = self.parts[-1]
        name = self._field.decode("latin-1").strip().lower()
        if name == "content-disposition":  # parsed from its bytes: file names are UTF-8 on the wire
            part.disposition = self._value.strip()
        part.headers[name] = self._value.decode("utf-8", "replace").strip()
        self._field = self._value = b""

    def on_headers_finished(self) -> None:
        part = self.parts[-1]
        _, options = parse_options_header(part.disposition)
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        part.filename = None if raw_filename is None else raw_filename.decode("utf-8", "replace")
        if part.name != "file" or self.error is not None:
            return
        if self.upload is not None:
            self._fail(bad_request("the form has more than one 'file' part; upload one file per request"))
            return
        if not part.filename:
            self._fail(bad_request("the form part 'file' has no filename; send it as a file, not a text field"))
            return
        self.upload = Upload(
            file_name=_SAFE_NAME.sub("", Path(part.filename.replace("\\", "/")).name)[:255] or "file",
            content_type=part.headers.get("content-type", "application/octet-stream"),
            size=0,
        )
        self._handle = self.target.open("xb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.parts[-1]
        part.size += end - start
        if self._handle is not None and self.parts[-1].name == "file" and self.error is None:
            if part.size > self.limit:
                self._fail(_too_large(self.limit))
                return
            self._handle.write(data[start:end])
            self._digest.update(data[start:end])
        elif part.name != "file":
            self._field_bytes += end - start
            if self._field_bytes > _MAX_FIELD_BYTES:
                self._fail(bad_request(f"the form's fields other than 'file' exceed {_MAX_FIELD_BYTES} bytes"))

    def on_part_end(self) -> None:
        if self._handle is not None and self.parts[-1].name == "file":
            self._handle.close()
            self._handle = None
            if self.upload is not None:
                self.upload.size = self.parts[-1].size
                self.upload.sha256 = self._digest.hexdigest()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _boundary(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary", b"")
    if kind != b"multipart/form-data" or not boundary:
        raise bad_request(
            "the upload must be multipart/form-data with a boundary, holding the file in a part named 'file' "
            f"(got Content-Type {content_type[:100]!r})"
        )
    if len(boundary) > 70:  # RFC 2046: 1 to 70 characters
        raise bad_request("the multipart boundary is longer than 70 characters")
    return boundary


def check_extension(file_name: str) -> None:
    """The spec's formats only; the message lists them, so a caller knows what to send instead."""
    extension = Path(file_name).suffix.lower().lstrip(".")
    if extension not in SUPPORTED_EXTENSIONS:
        raise bad_request(
            f"file {file_name!r} has an unsupported format ({'.' + extension if extension else 'no extension'}); "
            f"upload one of: {', '.join(sorted(SUPPORTED_EXTENSIONS))}"
        )


async def receive_upload(
    chunks: AsyncIterator[bytes], content_type: str, declared_length: str | None, target: Path, limits: FileLimits
) -> Upload:
    """Stream a multipart body into `target`: the file part goes to disk as it arrives; the whole body is
    refused past the size limit (by its Content-Length before a byte is read, else while it streams), or
    when it has not all arrived within `upload_timeout_seconds`. On any refusal `target` is deleted."""
    boundary = _boundary(content_type)
    body_limit = limits.max_file_bytes + _MULTIPART_OVERHEAD
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > body_limit:
        raise _too_large(limits.max_file_bytes)
    reader = _UploadReader(target, limits.max_file_bytes)
    callbacks: Any = {
        name: getattr(reader, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)

    async def feed() -> None:
        received = 0
        async for chunk in chunks:
            received += len(chunk)
            if received > body_limit:
                raise _too_large(limits.max_file_bytes)
            parser.write(chunk)
            if reader.error is not None:
                raise reader.error
        parser.finalize()

    try:
        await asyncio.wait_for(feed(), limits.upload_timeout_seconds)
        if reader.error is not None:
            raise reader.error
        if reader.upload is None:
            raise bad_request("the form has no part named 'file'; send the file as multipart field 'file'")
        if reader.parts and reader._handle is not None:
            raise bad_request("the multipart body ended inside the 'file' part; send the whole form")
        check_extension(reader.upload.file_name)
        return reader.upload
    except asyncio.TimeoutError:
        target.unlink(missing_ok=True)
        raise CozeError(
            Code.BAD_REQUEST,
            f"the upload did not arrive within {limits.upload_timeout_seconds:g} s; send it whole",
            status=408,
        ) from None
    except MultipartParseError as exc:
        target.unlink(missing_ok=True)
        raise bad_request(
            f"the multipart body cannot be read ({exc}); send a well-formed multipart/form-data body"
        ) from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        reader.close()


# --- files named in messages and parameters ------------------------------------------------------


def file_not_found(file_id: str, where: str) -> CozeError:
    return not_found(
        f"{where}: file {file_id} does not exist (never uploaded, deleted to keep the simulator's file store "
        "bounded, or uploaded with another token); upload it with POST /v1/files/upload and use the id it returns"
    )


def resolve(store: FileStore, grant: TokenGrant, file_id: Any, where: str) -> StoredFile:
    """The file a message part or parameter names, or a 4000 (not an id) / 4200 (unknown) naming `where`."""
    if not isinstance(file_id, str) or not file_id.isdigit():
        raise bad_request(f"{where} must be a file id string from /v1/files/upload, got {file_id!r}")
    found = store.get(file_id, grant)
    if found is None:
        raise file_not_found(file_id, where)
    return found


def files_in_parts(store: FileStore, grant: TokenGrant, parts: Sequence[Any], where: str) -> list[StoredFile]:
    """The uploaded files an object_string's parts name (`file`, `image`, `audio` parts with a `file_id`);
    parts with only a `file_url` name no upload and are skipped."""
    found: list[StoredFile] = []
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or part.get("type") not in ("file", "image", "audio"):
            continue
        file_id = part.get("file_id")
        if file_id in (None, "") and part.get("file_url"):
            continue
        if file_id in (None, ""):
            raise bad_request(f"{where}[{index}] is a {part.get('type')} part with neither file_id nor file_url")
        found.append(resolve(store, grant, file_id, f"{where}[{index}].file_id"))
    return found


def attachments(store: FileStore, grant: TokenGrant, messages: Sequence[InputMessage]) -> list[dict[str, Any]]:
    """The quotes (`StoredFile.quote`) of every uploaded file the messages' object_string parts name, in
    order, for a scenario's `{{ file.* }}` (the first) and `{{ files.N.* }}`. An unknown id is a 4200 and a
    part that is not a file reference a 4000, each naming the field."""
    found: list[StoredFile] = []
    for index, message in enumerate(messages):
        if message.content_type != "object_string":
            continue
        where = f"additional_messages[{index}].content"
        parts = parse_json(message.content, f"{where} (an object_string)")
        if isinstance(parts, list):  # not a list: user_text refuses it, naming the field
            found += files_in_parts(store, grant, parts, where)
    quotes: list[dict[str, Any]] = []
    budget = QUOTE_BUDGET
    for stored in found:
        quote = stored.quote(budget)
        budget -= len(quote["text"].encode("utf-8", errors="replace"))
        quotes.append(quote)
    return quotes


def parameter_files(
    store: FileStore, grant: TokenGrant, workflow: WorkflowScenario, parameters: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """The quotes of a run's `file` parameters, by name, for `{{ file.NAME.* }}`. The platform takes a file
    as the JSON string `{"file_id": "..."}` of an upload, or as a file URL (workflow_run.md, `parameters`);
    a URL is quoted as `{"url": ...}` only, since the simulator fetches nothing."""
    quotes: dict[str, dict[str, Any]] = {}
    budget = QUOTE_BUDGET
    for name, spec in workflow.parameters.items():
        value = parameters.get(name)
        if spec.type != "file" or not isinstance(value, str):
            continue
        where = f"parameters.{name}"
        if value.startswith(("http://", "https://")):
            quotes[name] = {"url": value}
            continue
        if not value.lstrip().startswith("{"):
            raise bad_request(
                f'{where} must be a JSON string {{"file_id": "..."}} naming an upload from /v1/files/upload, or a '
                f"file URL; got {value[:60]!r}"
            )
        reference = parse_json(value, f"{where} (a JSON-encoded file reference)")
        if not isinstance(reference, dict) or "file_id" not in reference:
            raise bad_request(f'{where} must hold {{"file_id": "..."}}; got {value[:60]!r}')
        quote = resolve(store, grant, reference["file_id"], f"{where}.file_id").quote(budget)
        budget -= len(quote["text"].encode("utf-8", errors="replace"))
        quotes[name] = quote
    return quotes
