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

Tokens and pattern matches are replaced anywhere they occur; ids (user ids, log ids) only as
whole tokens, so the user id `alice` does not rewrite `malice`. A value shorter than
`MIN_FREE_LENGTH` is replaced only where it stands as a JSON string (`"me"`) or under its key, never
as bare text, which would shred unrelated words. Finally the result is checked: if any learned
token is still present, or a redacted key still holds a value that is not a pseudonym, nothing is
written (`RedactionError`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
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
    return {quote(value, safe=""), quote_plus(value, safe="")}


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


def _header_secret(name: str, value: str) -> str:
    """The secret part of a header value: the credentials after an auth scheme, or all of it."""
    if name == "authorization":
        scheme, _, credentials = value.partition(" ")
        return credentials.strip() if credentials.strip() else scheme
    return value


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

    def _learn_body(self, data: bytes, *, stream: bool) -> None:
        text = data.decode("utf-8", errors="replace")
        self.learn_text(text)
        if stream:
            for event in parse_sse(text):
                parsed = _parse_json(event.data)
                if parsed is not None:
                    self.learn_json(parsed)
            return
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
            for form in quoted_forms:
                raw = form.encode("utf-8")
                replacements.setdefault(raw, f'"{name}"'.encode())
                alternatives.append((len(raw), re.escape(raw)))
            for form in free_forms:
                raw = form.encode("utf-8")
                replacements.setdefault(raw, name.encode())
                escaped = re.escape(raw)
                if kind not in _ANYWHERE:
                    escaped = rb"(?<![\w-])" + escaped + rb"(?![\w-])"
                alternatives.append((len(raw), escaped))
        # Longest first, so a value is never replaced piecewise by a shorter one it contains.
        alternatives.sort(key=lambda item: -item[0])
        self._replacements = replacements
        self._regex = re.compile(b"|".join(dict.fromkeys(pattern for _, pattern in alternatives)))
        return self._regex

    def redact_bytes(self, data: bytes, cuts: list[int] | None = None) -> tuple[bytes, list[int]]:
        """`data` with every learned value replaced, and the byte offsets `cuts` moved to match.

        A cut inside a replaced value moves to the start of its pseudonym: the secret was whole only
        once its last byte had arrived, so the pseudonym belongs to the later chunk.
        """
        cuts = list(cuts or [])
        regex = self._compile()
        if regex is None:
            return data, cuts
        out = bytearray()
        moved = list(cuts)
        last = 0
        shift = 0
        for match in regex.finditer(data):
            start, end = match.span()
            replacement = self._replacements[match.group(0)]
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

    def redact_text(self, text: str) -> str:
        return self.redact_bytes(text.encode("utf-8"))[0].decode("utf-8")

    def redact_json(self, value: Any) -> Any:
        """A JSON value with its strings redacted (for the outcome and ids in the cassette's info)."""
        if isinstance(value, dict):
            return {key: self.redact_json(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redact_json(item) for item in value]
        if isinstance(value, str):
            return self.redact_text(value)
        return value

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
        data, moved = self.redact_bytes(b"".join(pieces), cuts)
        bounds = [0, *moved, len(data)]
        chunks = [
            Chunk.of(chunk.at, data[bounds[index] : bounds[index + 1]]) for index, chunk in enumerate(body.chunks)
        ]
        error = self.redact_text(body.error) if body.error else None
        return Body(chunks=chunks, complete=body.complete, error=error)

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
        """Fail closed: no token left anywhere, and every redacted key holds only pseudonyms."""
        text = cassette.dumps()
        for value, kind in self._kinds.items():
            if kind != TOKEN:
                continue
            for form in _json_forms(value) | _url_forms(value):
                if form in text:
                    raise RedactionError(f"a {kind.lower()} survived redaction (as {len(form)} characters)")
        after = Redactor(self.rules)
        for interaction in cassette.interactions:
            after.learn_interaction(interaction)
        leftovers = sorted({after._kinds[value] for value in after._names if after._kinds[value] != CUSTOM})
        if leftovers:
            raise RedactionError(f"values of kind {leftovers} are still present after redaction")


def pseudonyms_in(text: str) -> list[str]:
    return [match.group(0) for match in PSEUDONYM.finditer(text)]
