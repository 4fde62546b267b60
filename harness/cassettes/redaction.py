"""Redaction before anything is written: secrets and personal ids become stable pseudonyms.

A value is replaced by `REDACTED-<KIND>-<n>`, numbered in order of first appearance in the
cassette, so the same user id or log id keeps one name across requests, responses and SSE events
(ids still line up) and re-recording the same traffic gives the same pseudonyms. Replay treats a
pseudonym in a recorded request as a variable that must bind to one value throughout
(`harness.cassettes.matching`), so redacting what the client sends does not stop a cassette from
matching it.

Redaction runs in two steps over the whole cassette. First it learns values: header values by name
(`Authorization` minus its scheme, `x-tt-logid`, cookies), JSON keys and query parameters by name
(`user_id`, `token`, `logid`...) in request bodies, response bodies and each SSE event's data, any
match of a configured pattern, and the secrets the recorder was given. Then it replaces every
occurrence of a learned value, wherever it is: bodies are rewritten as bytes and a stream as one
byte string, so a secret split across two chunks is still found (the chunk boundary moves to the
start of its pseudonym). Stream bytes are never re-serialised, so what is not redacted stays
byte-for-byte as recorded.

A stream's text is also split across events: a chat answer arrives as many
`conversation.message.delta` events and a workflow message node as many `Message` events, each with
a piece of the text in its JSON `content`, so a secret can be cut across pieces and never stand
whole in the bytes. So each message is reassembled first (the decoded `content` of the deltas of one
message id, or of the `Message` events of one node up to `node_is_finish`, in order; the same for
`reasoning_content`), patterns are learned from and values found in the joined text, and each match
is cut out of the pieces that hold it, its pseudonym going into the piece that held its last
character (the secret was whole only then; a piece can become empty). Only the characters inside
those JSON strings change, and a pseudonym needs no escaping, so every event stays valid JSON and the
rest of the stream keeps its bytes. The client's outcome stores such pieces too (a workflow's
messages); it gets the same pieces as the rewritten stream, so replay still gives it.

Tokens and pattern matches are replaced anywhere they occur; ids (user ids, log ids) only as
whole tokens, so the user id `alice` does not rewrite `malice`. A value shorter than
`MIN_FREE_LENGTH` is replaced only where it stands as a JSON string (`"me"`) or under its key, never
as bare text, which would shred unrelated words. Finally the result is checked: if any learned
token is still present (in the written text, in a stream's joined bytes, or, with pattern matches,
in a message's joined text or a run of the outcome's strings), or a redacted key still holds a
value that is not a pseudonym, nothing is written (`RedactionError`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, Field

from ..streams import parse_sse
from .model import Body, Cassette, CassetteError, Chunk, Interaction

PSEUDONYM = re.compile(r"REDACTED-([A-Z]+)-(\d+)")
MIN_FREE_LENGTH = 4
TOKEN, USER, LOGID, CUSTOM = "TOKEN", "USER", "LOGID", "CUSTOM"
_ANYWHERE = {TOKEN, CUSTOM}


class RedactionError(CassetteError):
    """Redaction could not make a cassette safe to write; nothing was written."""


class RedactionRules(BaseModel):
    """What to redact, by header name, by JSON key or query parameter name, and by pattern.

    The kinds name the pseudonyms (`REDACTED-USER-1`); `TOKEN` and `CUSTOM` values are replaced
    wherever they occur, other kinds only as whole tokens.
    """

    headers: dict[str, str] = Field(
        default_factory=lambda: {
            "authorization": TOKEN,
            "cookie": TOKEN,
            "set-cookie": TOKEN,
            "x-api-key": TOKEN,
            "x-tt-logid": LOGID,
        }
    )
    keys: dict[str, str] = Field(
        default_factory=lambda: {
            "token": TOKEN,
            "access_token": TOKEN,
            "refresh_token": TOKEN,
            "api_key": TOKEN,
            "client_secret": TOKEN,
            "password": TOKEN,
            "user_id": USER,
            "logid": LOGID,
        },
        description="JSON keys (at any depth) and query parameters whose string values are redacted",
    )
    patterns: list[str] = Field(default_factory=list, description="regular expressions; each match is redacted")

    def compiled(self) -> list[re.Pattern[str]]:
        try:
            return [re.compile(pattern) for pattern in self.patterns]
        except re.error as exc:
            raise RedactionError(f"bad redaction pattern: {exc}") from exc


def _json_forms(value: str) -> set[str]:
    """How a string can appear inside JSON text: raw, ASCII-escaped, or Go-escaped (`<` as `\\u003c`)."""
    plain = json.dumps(value, ensure_ascii=False)[1:-1]
    ascii_form = json.dumps(value)[1:-1]
    go_form = plain.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return {value, plain, ascii_form, go_form}


def _url_forms(value: str) -> set[str]:
    return {quote(value, safe="", errors="surrogatepass"), quote_plus(value, safe="", errors="surrogatepass")}


def _walk_json(value: Any, keys: dict[str, str], depth: int = 0) -> Iterator[tuple[str, str]]:
    """(kind, value) for every string under a redacted key; also inside strings that hold JSON."""
    if depth > 8:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            kind = keys.get(str(key).lower())
            if kind is not None and isinstance(item, str) and item:
                yield kind, item
            else:
                yield from _walk_json(item, keys, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_json(item, keys, depth + 1)
    elif isinstance(value, str) and value[:1] in "{[":
        parsed = _parse_json(value)
        if parsed is not None:
            yield from _walk_json(parsed, keys, depth + 1)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _header_secret(name: str, value: str) -> str:
    """The secret part of a header value: the credentials after an auth scheme, or all of it."""
    if name == "authorization":
        scheme, _, credentials = value.partition(" ")
        return credentials.strip() if credentials.strip() else scheme
    return value


# --- a stream's messages, as pieces of JSON strings --------------------------------------------------

TEXT_FIELDS = ("content", "reasoning_content")
"""The fields of an event's JSON whose text a message is streamed in, piece by piece."""

_LINE_END = re.compile(r"\r\n|\r|\n")
_WHITESPACE = frozenset(" \t\n\r")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class _Piece:
    """One JSON string of a stream: its raw characters at `start` in the stream's text, and its value.

    `offsets[i]` is where the encoding of character `i` of `text` starts in the raw string
    (`offsets[len(text)]` is its end), so a span of the text maps to a span of the raw characters.
    """

    start: int
    text: str
    offsets: tuple[int, ...]


def _decode_with_offsets(raw: str) -> tuple[str, tuple[int, ...]] | None:
    """The value of a JSON string's inside and where each character's encoding starts; None if invalid."""
    chars: list[str] = []
    offsets: list[int] = []
    index, end = 0, len(raw)
    try:
        while index < end:
            offsets.append(index)
            char = raw[index]
            if char != "\\":
                chars.append(char)
                index += 1
                continue
            escape = raw[index + 1 : index + 2]
            if escape == "u":
                code = int(raw[index + 2 : index + 6], 16)
                index += 6
                if 0xD800 <= code <= 0xDBFF and raw[index : index + 2] == "\\u":
                    low = int(raw[index + 2 : index + 6], 16)
                    if 0xDC00 <= low <= 0xDFFF:  # a pair is one character, as json decodes it
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                chars.append(chr(code))
            elif escape in _SIMPLE_ESCAPES:
                chars.append(_SIMPLE_ESCAPES[escape])
                index += 2
            else:
                return None
    except ValueError:
        return None
    offsets.append(end)
    return "".join(chars), tuple(offsets)


def _skip_space(data: str, index: int) -> int:
    while index < len(data) and data[index] in _WHITESPACE:
        index += 1
    return index


def _top_level_strings(data: str, fields: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Where the string values of `fields` stand in a JSON object's text (inside the quotes); {} if not an object."""
    found: dict[str, tuple[int, int]] = {}
    try:
        index = _skip_space(data, 0)
        if data[index : index + 1] != "{":
            return {}
        index += 1
        while True:
            index = _skip_space(data, index)
            if data[index : index + 1] == "}":
                return found
            if data[index : index + 1] != '"':
                return {}
            key, index = scanstring(data, index + 1)
            index = _skip_space(data, index)
            if data[index : index + 1] != ":":
                return {}
            index = _skip_space(data, index + 1)
            if key in fields and data[index : index + 1] == '"':
                _, end = scanstring(data, index + 1)
                found[key] = (index + 1, end - 1)  # the last of duplicate keys, as json.loads reads it
                index = end
            else:
                _, index = _DECODER.raw_decode(data, index)
            index = _skip_space(data, index)
            if data[index : index + 1] == ",":
                index += 1
            elif data[index : index + 1] == "}":
                return found
            else:
                return {}
    except ValueError:
        return {}


def _sse_events(text: str) -> Iterator[tuple[str, str, list[tuple[int, int]]]]:
    """(event name, data, where each data line starts in the data and in `text`) for each event.

    Like `parse_sse`, but keeping positions; an event the stream ends in without a blank line is
    included too (its bytes are stored even though a client would not dispatch it).
    """
    name: str | None = None
    lines: list[tuple[str, int]] = []
    position = 0
    ends = [(match.start(), match.end()) for match in _LINE_END.finditer(text)]
    if position < len(text):
        ends.append((len(text), len(text)))
    for line_end, next_start in ends:
        line = text[position:line_end]
        start = position
        position = next_start
        if line == "":
            if lines:
                yield _event(name, lines)
            name, lines = None, []
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        offset = start + len(field) + len(colon)
        if value.startswith(" "):
            value, offset = value[1:], offset + 1
        if field == "event":
            name = value
        elif field == "data":
            lines.append((value, offset))
    if lines:
        yield _event(name, lines)


def _event(name: str | None, lines: list[tuple[str, int]]) -> tuple[str, str, list[tuple[int, int]]]:
    segments: list[tuple[int, int]] = []
    at = 0
    for value, offset in lines:
        segments.append((at, offset))
        at += len(value) + 1
    return name or "message", "\n".join(value for value, _ in lines), segments


def _in_text(segments: list[tuple[int, int]], index: int) -> int:
    """Where index `index` of an event's data stands in the stream's text (a JSON string never spans lines)."""
    for data_at, text_at in reversed(segments):
        if data_at <= index:
            return text_at + index - data_at
    return index  # pragma: no cover - segments start at 0


def _stream_messages(text: str) -> list[list[_Piece]]:
    """The messages of an SSE stream's text, each as its pieces in order (see the module's docstring).

    Chat deltas are grouped by message id (`*delta*` events); workflow `Message` events by node,
    a node's message ending at `node_is_finish`; any other event with a text field is a message of
    one piece. Each text field is a message of its own.
    """
    open_groups: dict[tuple[str, ...], list[_Piece]] = {}
    messages: list[list[_Piece]] = []
    for number, (name, data, segments) in enumerate(_sse_events(text)):
        spans = _top_level_strings(data, TEXT_FIELDS)
        if not spans:
            continue
        parsed = _parse_json(data)
        if not isinstance(parsed, dict):
            continue
        for field, (start, end) in spans.items():
            decoded = _decode_with_offsets(data[start:end])
            if decoded is None or decoded[0] != parsed.get(field):
                continue
            piece = _Piece(_in_text(segments, start), decoded[0], decoded[1])
            if name == "Message":
                key: tuple[str, ...] = (field, name, str(parsed.get("node_id") or parsed.get("node_title")))
                closes = parsed.get("node_is_finish") is True
            elif "delta" in name:
                key = (field, name, str(parsed.get("id") or parsed.get("chat_id")))
                closes = False
            else:
                key, closes = (field, name, f"#{number}"), True
            group = open_groups.setdefault(key, [])
            if not group:
                messages.append(group)
            group.append(piece)
            if closes:
                del open_groups[key]
    return messages


def _string_runs(value: Any, depth: int = 0) -> Iterator[list[str]]:
    """Every run of consecutive strings in the lists inside a JSON value (an outcome's streamed messages)."""
    if depth > 16:
        return
    if isinstance(value, dict):
        for item in value.values():
            yield from _string_runs(item, depth + 1)
    elif isinstance(value, list):
        run: list[str] = []
        for item in value:
            if isinstance(item, str):
                run.append(item)
                continue
            if len(run) > 1:
                yield run
            run = []
            yield from _string_runs(item, depth + 1)
        if len(run) > 1:
            yield run


def message_texts(data: bytes) -> list[str]:
    """The joined, decoded text of each message streamed in an SSE body (see the module's docstring)."""
    text = data.decode("utf-8", errors="surrogateescape")
    return ["".join(piece.text for piece in pieces) for pieces in _stream_messages(text)]


class Redactor:
    """Learns the values to hide from a whole cassette, then rewrites it. One instance per cassette."""

    def __init__(self, rules: RedactionRules | None = None, secrets: Iterable[str] = ()) -> None:
        self.rules = rules or RedactionRules()
        self._patterns = self.rules.compiled()
        self._keys = {key.lower(): kind for key, kind in self.rules.keys.items()}
        self._headers = {name.lower(): kind for name, kind in self.rules.headers.items()}
        self._names: dict[str, str] = {}
        self._kinds: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._regex: re.Pattern[bytes] | None = None
        self._replacements: dict[bytes, bytes] = {}
        self._text_regex: re.Pattern[str] | None = None
        self._text_replacements: dict[str, str] = {}
        self._rewritten: dict[tuple[str, ...], tuple[str, ...]] = {}
        """A streamed message's pieces as recorded -> as written, for the outcome's copy of them."""
        for secret in secrets:
            if secret:
                self.learn(TOKEN, secret)

    # --- learning -------------------------------------------------------------------------------

    def learn(self, kind: str, value: str) -> str:
        """The pseudonym for `value`, assigning the next one of `kind` the first time it is seen."""
        if PSEUDONYM.fullmatch(value):
            return value
        if value not in self._names:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._names[value] = f"REDACTED-{kind}-{self._counts[kind]}"
            self._kinds[value] = kind
            self._regex = None
            self._text_regex = None
        return self._names[value]

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def learn_text(self, text: str) -> None:
        for pattern in self._patterns:
            for match in pattern.finditer(text):
                if match.group(0):
                    self.learn(CUSTOM, match.group(0))

    def learn_json(self, value: Any) -> None:
        for kind, item in _walk_json(value, self._keys):
            self.learn(kind, item)

    def _learn_stream(self, data: bytes) -> None:
        """Learn from a stream's bytes, its events' JSON, then its messages joined.

        A pattern match in the bytes that lies in one piece of a message streamed in several and
        reaches the piece's edge may be cut short there (`Zephyr-42` of `Zephyr-4242`): the joined
        text has the whole match, so the stub is not learned as a value of its own.
        """
        text = data.decode("utf-8", errors="surrogateescape")
        messages = _stream_messages(text)
        edges = [
            (piece.start, piece.start + piece.offsets[-1]) for pieces in messages if len(pieces) > 1 for piece in pieces
        ]
        for pattern in self._patterns:
            for match in pattern.finditer(text):
                start, end = match.span()
                if start == end or any(
                    first <= start and end <= last and (start == first or end == last) for first, last in edges
                ):
                    continue
                value = match.group(0).encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
                self.learn(CUSTOM, value)
        for event in parse_sse(data.decode("utf-8", errors="replace")):
            parsed = _parse_json(event.data)
            if parsed is not None:
                self.learn_json(parsed)
        for pieces in messages:
            joined = "".join(piece.text for piece in pieces)
            self.learn_text(joined)
            self.learn_json(joined)

    def _learn_body(self, data: bytes, *, stream: bool) -> None:
        if stream:
            self._learn_stream(data)
            return
        text = data.decode("utf-8", errors="replace")
        self.learn_text(text)
        parsed = _parse_json(text)
        if parsed is not None:
            self.learn_json(parsed)
        elif "=" in text:  # a form body (an OAuth token exchange, say) is a query string
            self._learn_query(text)

    def _learn_query(self, query: str) -> None:
        for key, value in parse_qsl(query, keep_blank_values=True):
            kind = self._keys.get(key.lower())
            if kind is not None and value:
                self.learn(kind, value)

    def _learn_headers(self, headers: dict[str, list[str]]) -> None:
        for name, values in headers.items():
            kind = self._headers.get(name.lower())
            for value in values:
                self.learn_text(value)
                if kind is not None and value:
                    self.learn(kind, _header_secret(name.lower(), value))

    def _learn_uri(self, uri: str) -> None:
        self.learn_text(uri)
        self._learn_query(urlsplit(uri).query)

    def learn_interaction(self, interaction: Interaction) -> None:
        request, response = interaction.request, interaction.response
        self._learn_headers(request.headers)
        self._learn_uri(request.uri)
        self._learn_body(request.content, stream=False)
        self._learn_headers(response.headers)
        self._learn_body(response.body.data, stream=response.body.is_stream)

    # --- replacing ------------------------------------------------------------------------------

    def _compile(self) -> re.Pattern[bytes] | None:
        if self._regex is not None or not self._names:
            return self._regex
        replacements: dict[bytes, bytes] = {}
        alternatives: list[tuple[int, bytes]] = []
        for value, name in self._names.items():
            kind = self._kinds[value]
            quoted_forms = {f'"{form}"' for form in _json_forms(value)}
            free_forms: set[str] = set()
            if len(value) >= MIN_FREE_LENGTH:
                free_forms = _json_forms(value) | _url_forms(value)
            # a form holding a lone surrogate (a JSON `\\ud800`) is never in UTF-8 bytes: found decoded only
            for form in filter(_encodable, quoted_forms):
                raw = form.encode("utf-8")
                replacements.setdefault(raw, f'"{name}"'.encode())
                alternatives.append((len(raw), re.escape(raw)))
            for form in filter(_encodable, free_forms):
                raw = form.encode("utf-8")
                replacements.setdefault(raw, name.encode())
                escaped = re.escape(raw)
                if kind not in _ANYWHERE:
                    escaped = rb"(?<![\w-])" + escaped + rb"(?![\w-])"
                alternatives.append((len(raw), escaped))
        if not alternatives:
            return None
        # Longest first, so a value is never replaced piecewise by a shorter one it contains.
        alternatives.sort(key=lambda item: -item[0])
        self._replacements = replacements
        self._regex = re.compile(b"|".join(dict.fromkeys(pattern for _, pattern in alternatives)))
        return self._regex

    def _compile_text(self) -> re.Pattern[str] | None:
        """The matcher of learned values in decoded text (a message's joined text): the same rules as bytes."""
        if self._text_regex is not None or not self._names:
            return self._text_regex
        replacements: dict[str, str] = {}
        alternatives: list[tuple[int, str]] = []
        for value, name in self._names.items():
            if len(value) < MIN_FREE_LENGTH:
                continue  # only as a whole message (`_matches`), never as bare text
            for form in _json_forms(value) | _url_forms(value):  # the text may hold JSON (an End node's output)
                replacements.setdefault(form, name)
                escaped = re.escape(form)
                if self._kinds[value] not in _ANYWHERE:
                    escaped = r"(?<![\w-])" + escaped + r"(?![\w-])"
                alternatives.append((len(form), escaped))
        if not alternatives:
            return None
        alternatives.sort(key=lambda item: -item[0])
        self._text_replacements = replacements
        # ASCII word characters, as the byte matcher sees them
        self._text_regex = re.compile("|".join(dict.fromkeys(p for _, p in alternatives)), re.ASCII)
        return self._text_regex

    def _matches(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, pseudonym) of each learned value in decoded text, left to right, longest first."""
        name = self._names.get(text)
        if name is not None and text:
            return [(0, len(text), name)]
        regex = self._compile_text()
        if regex is None:
            return []
        return [(m.start(), m.end(), self._text_replacements[m.group(0)]) for m in regex.finditer(text)]

    def _piece_edits(self, texts: list[str]) -> list[tuple[int, int, int, str]]:
        """How to redact text streamed in pieces: (piece, start, end, replacement) spans of the pieces.

        The values are found in the joined text; each piece loses the characters of a match it
        holds, and the piece holding a match's last character gets its pseudonym there, so the
        pieces joined read as the joined text redacted.
        """
        matches = self._matches("".join(texts))
        if not matches:
            return []
        edits: list[tuple[int, int, int, str]] = []
        bounds: list[tuple[int, int]] = []
        at = 0
        for text in texts:
            bounds.append((at, at + len(text)))
            at += len(text)
        for start, end, name in matches:
            for index, (first, last) in enumerate(bounds):
                if first < end and last > start:
                    replacement = name if first < end <= last else ""
                    edits.append((index, max(start, first) - first, min(end, last) - first, replacement))
        return edits

    def redact_pieces(self, texts: list[str]) -> list[str]:
        """Pieces of one text (a streamed message) with every learned value in their joined text replaced."""
        result = list(texts)
        for index, start, end, replacement in reversed(self._piece_edits(texts)):
            result[index] = result[index][:start] + replacement + result[index][end:]
        return result

    def _redact_messages(self, data: bytes, cuts: list[int]) -> tuple[bytes, list[int]]:
        """A stream with the values found in its messages' joined texts cut out of their pieces.

        Only the characters inside the pieces' JSON strings change: each removed span is a run of
        whole encoded characters, and a pseudonym is plain ASCII, so every event stays valid JSON.
        """
        text = data.decode("utf-8", errors="surrogateescape")
        edits: list[tuple[int, int, str]] = []
        for pieces in _stream_messages(text):
            for index, start, end, replacement in self._piece_edits([piece.text for piece in pieces]):
                piece = pieces[index]
                edits.append((piece.start + piece.offsets[start], piece.start + piece.offsets[end], replacement))
        if not edits:
            return data, cuts
        edits.sort()
        byte_edits: list[tuple[int, int, bytes]] = []
        position, at = 0, 0
        for start, end, replacement in edits:
            at += len(text[position:start].encode("utf-8", errors="surrogateescape"))
            length = len(text[start:end].encode("utf-8", errors="surrogateescape"))
            byte_edits.append((at, at + length, replacement.encode("utf-8")))
            at += length
            position = end
        return _apply_edits(data, byte_edits, cuts)

    def redact_bytes(self, data: bytes, cuts: list[int] | None = None) -> tuple[bytes, list[int]]:
        """`data` with every learned value replaced, and the byte offsets `cuts` moved to match.

        A cut inside a replaced value moves to the start of its pseudonym: the secret was whole only
        once its last byte had arrived, so the pseudonym belongs to the later chunk.
        """
        cuts = list(cuts or [])
        regex = self._compile()
        if regex is None:
            return data, cuts
        edits = [(*match.span(), self._replacements[match.group(0)]) for match in regex.finditer(data)]
        return _apply_edits(data, edits, cuts)

    def redact_text(self, text: str) -> str:
        return self.redact_bytes(text.encode("utf-8"))[0].decode("utf-8")

    def redact_json(self, value: Any) -> Any:
        """A JSON value with its strings redacted (for the outcome and ids in the cassette's info).

        A list may hold a streamed message's pieces (a workflow's messages): a run of them that a
        stream of the cassette held gets the pieces written in that stream, so replay gives it back;
        then a learned value still cut across a run of strings is cut out of them like a stream's.
        """
        if isinstance(value, dict):
            return {key: self.redact_json(item) for key, item in value.items()}
        if isinstance(value, list):
            items = list(value)
            for old, new in self._rewritten.items():
                index = 0
                while index + len(old) <= len(items):
                    if tuple(items[index : index + len(old)]) == old:
                        items[index : index + len(old)] = new
                        index += len(new)
                    else:
                        index += 1
            items = self._redact_runs(items)
            return [self.redact_json(item) for item in items]
        if isinstance(value, str):
            return self.redact_text(value)
        return value

    def _redact_runs(self, items: list[Any]) -> list[Any]:
        """`items` with each run of consecutive strings redacted as the pieces of one text."""
        result = list(items)
        index = 0
        while index < len(result):
            if not isinstance(result[index], str):
                index += 1
                continue
            end = index
            while end < len(result) and isinstance(result[end], str):
                end += 1
            result[index:end] = self.redact_pieces(result[index:end])
            index = end
        return result

    def _redact_headers(self, headers: dict[str, list[str]]) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for name, values in headers.items():
            kind = self._headers.get(name.lower())
            redacted: list[str] = []
            for value in values:
                if kind is not None and value:
                    secret = _header_secret(name.lower(), value)
                    value = value.replace(secret, self.learn(kind, secret))
                redacted.append(self.redact_text(value))
            result[name] = redacted
        return result

    def _redact_uri(self, uri: str) -> str:
        parts = urlsplit(uri)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        changed = False
        for index, (key, value) in enumerate(pairs):
            kind = self._keys.get(key.lower())
            if kind is not None and value and not PSEUDONYM.fullmatch(value):
                pairs[index] = (key, self.learn(kind, value))
                changed = True
        if changed:
            uri = urlunsplit(parts._replace(query=urlencode(pairs)))
        return self.redact_text(uri)

    def _redact_body(self, body: Body) -> Body:
        if body.chunks is None:
            data = self.redact_bytes(body.data)[0]
            return Body.whole(data).model_copy(update={"complete": body.complete, "error": body.error})
        pieces = [chunk.data for chunk in body.chunks]
        cuts: list[int] = []
        total = 0
        for piece in pieces[:-1]:
            total += len(piece)
            cuts.append(total)
        recorded = b"".join(pieces)
        data, moved = self._redact_messages(recorded, cuts)
        data, moved = self.redact_bytes(data, moved)
        self._remember_pieces(recorded, data)
        bounds = [0, *moved, len(data)]
        chunks = [
            Chunk.of(chunk.at, data[bounds[index] : bounds[index + 1]]) for index, chunk in enumerate(body.chunks)
        ]
        error = self.redact_text(body.error) if body.error else None
        return Body(chunks=chunks, complete=body.complete, error=error)

    def _remember_pieces(self, recorded: bytes, written: bytes) -> None:
        """Note how each streamed message's pieces were rewritten, for the outcome's copy of them."""
        before = _stream_messages(recorded.decode("utf-8", errors="surrogateescape"))
        after = _stream_messages(written.decode("utf-8", errors="surrogateescape"))
        if [len(pieces) for pieces in before] != [len(pieces) for pieces in after]:
            return  # not the same messages any more; the outcome's runs are redacted on their own
        for old_pieces, new_pieces in zip(before, after, strict=True):
            old = tuple(piece.text for piece in old_pieces)
            new = tuple(piece.text for piece in new_pieces)
            if old != new:
                self._rewritten.setdefault(old, new)

    def redact_interaction(self, interaction: Interaction) -> Interaction:
        request, response = interaction.request, interaction.response
        body = self.redact_text(request.body) if request.body is not None else None
        request_headers = self._redact_headers(request.headers)
        if "content-length" in request_headers:
            request_headers["content-length"] = [str(len((body or "").encode("utf-8")))]
        new_request = request.model_copy(
            update={
                "uri": self._redact_uri(request.uri),
                "headers": request_headers,
                "body": body,
            }
        )
        new_body = self._redact_body(response.body)
        headers = self._redact_headers(response.headers)
        if "content-length" in headers and not new_body.is_stream and new_body.complete:
            headers["content-length"] = [str(len(new_body.data))]
        new_response = response.model_copy(update={"headers": headers, "body": new_body})
        return Interaction(request=new_request, response=new_response)

    # --- the whole cassette ---------------------------------------------------------------------

    def redact(self, cassette: Cassette) -> Cassette:
        """Learn from every interaction, then rewrite all of them and the info block; check the result.

        Pseudonyms already in the cassette (vcrpy re-saving a cassette it appended to) keep their
        numbers; new values are numbered after them, so no name ever means two values.
        """
        for match in PSEUDONYM.finditer(cassette.model_dump_json()):
            kind, number = match.group(1), int(match.group(2))
            self._counts[kind] = max(self._counts.get(kind, 0), number)
        for interaction in cassette.interactions:
            self.learn_interaction(interaction)
        info = cassette.coze_harness
        if info.outcome is not None:
            self.learn_json(info.outcome)
        interactions = [self.redact_interaction(interaction) for interaction in cassette.interactions]
        new_info = info.model_copy(
            update={
                "outcome": self.redact_json(info.outcome) if info.outcome is not None else None,
                "ids": {role: self.redact_text(value) for role, value in info.ids.items()},
                "base_url": self.redact_text(info.base_url),
                "notes": [self.redact_text(note) for note in info.notes],
                "pseudonyms": self.counts,
            }
        )
        result = Cassette(coze_harness=new_info, interactions=interactions)
        self.check(result)
        return result

    def check(self, cassette: Cassette) -> None:
        """Fail closed: no token left anywhere, and every redacted key holds only pseudonyms.

        Tokens are looked for in the written text and in each stream's bytes joined across chunks;
        tokens and pattern matches in each streamed message's joined text and in each run of the
        outcome's strings joined (pseudonyms masked, so a value cannot be read across one).
        """
        text = cassette.dumps()
        streams = [
            interaction.response.body.data.decode("utf-8", errors="surrogateescape")
            for interaction in cassette.interactions
            if interaction.response.body.is_stream
        ]
        for value, kind in self._kinds.items():
            if kind != TOKEN:
                continue
            for form in _json_forms(value) | _url_forms(value):
                if form in text or any(form in stream for stream in streams):
                    raise RedactionError(f"a {kind.lower()} survived redaction (as {len(form)} characters)")
        joined = [joined for stream in streams for joined in message_texts(stream.encode("utf-8", "surrogateescape"))]
        if cassette.coze_harness.outcome is not None:
            joined += ["".join(run) for run in _string_runs(cassette.coze_harness.outcome)]
        masked = [PSEUDONYM.sub("\0", item) for item in joined]
        for value, kind in self._kinds.items():
            if kind not in _ANYWHERE or len(value) < MIN_FREE_LENGTH:
                continue
            for form in _json_forms(value):
                if any(form in item for item in masked):
                    raise RedactionError(f"a {kind.lower()} value survived redaction in a message streamed in pieces")
        after = Redactor(self.rules)
        for interaction in cassette.interactions:
            after.learn_interaction(interaction)
        leftovers = sorted({after._kinds[value] for value in after._names if after._kinds[value] != CUSTOM})
        if leftovers:
            raise RedactionError(f"values of kind {leftovers} are still present after redaction")


def _apply_edits(data: bytes, edits: Iterable[tuple[int, int, bytes]], cuts: list[int]) -> tuple[bytes, list[int]]:
    """`data` with each (start, end, replacement) applied (in order, not overlapping), and `cuts` moved.

    A cut inside a replaced span moves to the start of its replacement: the value was whole only
    once its last byte had arrived, so the replacement belongs to the later chunk.
    """
    out = bytearray()
    moved = list(cuts)
    last = 0
    shift = 0
    for start, end, replacement in edits:
        out += data[last:start]
        new_start = start + shift
        for index, cut in enumerate(cuts):
            if start < cut < end:
                moved[index] = new_start
            elif cut >= end:
                moved[index] = cut + shift + len(replacement) - (end - start)
        shift += len(replacement) - (end - start)
        out += replacement
        last = end
    out += data[last:]
    return bytes(out), moved


def pseudonyms_in(text: str) -> list[str]:
    return [match.group(0) for match in PSEUDONYM.finditer(text)]
