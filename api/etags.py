"""Entity tags and conditional requests (RFC 9110 §8.8.3, §13.1.1–13.1.2), in one place.

The routes that send an ETag (items, tiles) compare ``If-None-Match`` with these helpers
before they build a body; :class:`ConditionalMiddleware`, outside GZip, then keeps the
answer true for the bytes that actually leave:

- a strong ETag names one byte sequence, so a gzip-encoded body gets its own tag
  (``"v3"`` becomes ``"v3-gzip"``); both forms revalidate either representation, as
  Apache's mod_deflate does, and a 304 carries the form the client holds;
- a GET of a resource with an ETag that the route did not answer 304 itself (a route added
  later) is still answered 304 when ``If-None-Match`` matches;
- ``Vary`` names what the body depended on: routes record it with
  :func:`api.negotiation.vary` (Accept, Accept-Language), and ``Accept-Encoding`` is on
  every answer, since any body may be compressed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.negotiation import VARY_SCOPE_KEY
from geo.kernel.crs import ServedCrs

GZIP_SUFFIX = "-gzip"
# entity-tag = [ W/ ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text
_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')
# Headers a 304 keeps (RFC 9110 §15.4.5): the rest describe a body it does not have.
_NOT_IN_304 = {b"content-type", b"content-length", b"content-encoding", b"content-disposition"}
# The opaque part of every strong ETag a feature is served with (the gzip form stripped):
# GeoJSON "v3", another CRS "v3-3405", HTML "v3-html-vi" / "v3-3405-html-en".
# An HTML page's tag also carries a digest of the related features it lists.
_VERSION_TAG = re.compile(r"^v(\d+)(?:-\d+)?(?:-html-[a-z]{2}(?:-[0-9a-f]+)?)?$")


@dataclass(frozen=True)
class EntityTag:
    """One entity tag: its opaque value (without quotes) and whether it is weak."""

    opaque: str
    weak: bool = False

    def __str__(self) -> str:
        return f'{"W/" if self.weak else ""}"{self.opaque}"'


def parse_entity_tags(header: str | None) -> list[EntityTag] | Literal["*"]:
    """The tags of an ``If-Match``/``If-None-Match`` value; ``"*"`` for the wildcard.

    Malformed members are skipped (a tag we cannot read cannot match).
    """
    if header is None or not header.strip():
        return []
    if header.strip() == "*":
        return "*"
    tags = []
    position = 0
    while position < len(header):
        found = _TAG.match(header, position)
        if found is None:
            # Skip to the next member; what it held is not a tag.
            comma = header.find(",", position)
            if comma < 0:
                break
            position = comma + 1
            continue
        tags.append(EntityTag(found.group(2), weak=found.group(1) is not None))
        position = found.end()
    return tags


def parse_etag(etag: str) -> EntityTag:
    """The tag of an ``ETag`` header value (as this service writes them)."""
    parsed = parse_entity_tags(etag)
    if parsed == "*" or len(parsed) != 1:
        raise ValueError(f"not an entity tag: {etag!r}")
    return parsed[0]


def _identity(opaque: str) -> str:
    return opaque.removesuffix(GZIP_SUFFIX)


def none_match(header: str | None, etag: str, *, wildcard: bool = True) -> bool:
    """True when ``If-None-Match`` matches ``etag``, so a GET is answered 304.

    Weak comparison (§13.1.2): ``W/`` is ignored on both sides. ``*`` matches any current
    representation. A tag matches its gzip form and the other way round.

    Routes pass ``wildcard=False``: a 304 for ``*`` must carry the ETag the 200 would
    have, which only :class:`ConditionalMiddleware` knows (after GZip).
    """
    tags = parse_entity_tags(header)
    if tags == "*":
        return wildcard
    current = _identity(parse_etag(etag).opaque)
    return any(_identity(tag.opaque) == current for tag in tags)


def match(header: str | None, etag: str) -> bool:
    """True when ``If-Match`` holds for ``etag``: strong comparison (§13.1.1).

    A weak tag never matches, on either side; ``*`` matches any current representation.
    """
    tags = parse_entity_tags(header)
    if tags == "*":
        return True
    current = parse_etag(etag)
    if current.weak:
        return False
    return any(not tag.weak and tag.opaque == current.opaque for tag in tags)


def strong_tags(header: str | None) -> list[str] | Literal["*"]:
    """The opaque values of the strong tags of an ``If-Match`` (weak ones never match).

    A gzip form names the same version as the identity form it was made from.
    """
    tags = parse_entity_tags(header)
    if tags == "*":
        return "*"
    return [_identity(tag.opaque) for tag in tags if not tag.weak]


def any_tags(header: str | None) -> list[str] | Literal["*"]:
    """The opaque values of every tag of an ``If-None-Match``, weak or strong (it compares
    weakly), in their identity form."""
    tags = parse_entity_tags(header)
    if tags == "*":
        return "*"
    return [_identity(tag.opaque) for tag in tags]


def not_modified(request: Request, etag: str, headers: Mapping[str, str]) -> Response | None:
    """The 304 a route answers when ``If-None-Match`` holds ``etag``; None: send the body.

    The one place routes (items, tiles) read ``If-None-Match``; the wildcard is left to
    :class:`ConditionalMiddleware` (see :func:`none_match`).
    """
    if none_match(request.headers.get("if-none-match"), etag, wildcard=False):
        return Response(status_code=304, headers=dict(headers))
    return None


def feature_etag(version: int, crs: ServedCrs, html_lang: str | None = None) -> str:
    """One strong ETag per representation of a feature: version, CRS, HTML in its language."""
    tag = f"v{version}" if crs.uri.endswith("CRS84") else f"v{version}-{crs.srid}"
    return f'"{tag}-html-{html_lang}"' if html_lang else f'"{tag}"'


def expected_version(
    if_match: str | None, version_tag: re.Pattern[str] = _VERSION_TAG
) -> int | None:
    """The version an ``If-Match`` asks for; None: no condition (absent, or ``*``).

    Strong comparison (RFC 9110 §13.1.1): weak tags never match. ``*`` matches any
    existing feature (a missing one is a 404 either way). ``version_tag`` reads the
    version from an opaque tag: a feature's by default, another resource's own form.
    """
    if if_match is None:
        return None
    tags = strong_tags(if_match)
    if tags == "*":
        return None
    for opaque in tags:
        found = version_tag.match(opaque)
        if found:
            return int(found.group(1))
    # A tag we never issued (or only weak ones) cannot match: the precondition fails.
    return -1


def refused_versions(if_none_match: str | None) -> frozenset[int] | Literal["*"]:
    """The feature versions an ``If-None-Match`` on a write excludes (weak, §13.1.2)."""
    tags = any_tags(if_none_match)
    if tags == "*":
        return "*"
    found = (_VERSION_TAG.match(opaque) for opaque in tags)
    return frozenset(int(m.group(1)) for m in found if m)


def encoded(etag: str, content_encoding: str) -> str:
    """The ETag of ``etag``'s body once encoded: strong tags change, weak ones may stay."""
    tag = parse_etag(etag)
    if tag.weak or content_encoding in {"", "identity"}:
        return etag
    return str(EntityTag(f"{tag.opaque}-{content_encoding}"))


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _with_vary(headers: list[tuple[bytes, bytes]], names: list[str]) -> list[tuple[bytes, bytes]]:
    present: list[str] = []
    kept = []
    for key, value in headers:
        if key.lower() == b"vary":
            present += [v.strip() for v in value.decode("latin-1").split(",") if v.strip()]
        else:
            kept.append((key, value))
    if "*" in present:
        return headers
    lowered = {p.lower() for p in present}
    for name in names:
        if name.lower() not in lowered:
            present.append(name)
            lowered.add(name.lower())
    return [*kept, (b"vary", ", ".join(present).encode())] if present else kept


class ConditionalMiddleware:
    """ETags that change with Content-Encoding, 304s for every ETag, and ``Vary``.

    Sits outside GZipMiddleware, so it sees the headers of the bytes that are sent.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite the answer's ETag, Vary and (for a matching GET) status."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        varies: set[str] = set()
        scope[VARY_SCOPE_KEY] = varies
        if_none_match = None
        for key, value in scope.get("headers", []):
            if key == b"if-none-match":
                if_none_match = value.decode("latin-1")
        reading = scope["method"] in {"GET", "HEAD"}
        dropping = False

        async def send_conditional(message: Message) -> None:
            nonlocal dropping
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                status = message["status"]
                etag = _header(headers, b"etag")
                if etag is not None:
                    coding = (_header(headers, b"content-encoding") or "").strip().lower()
                    etag = encoded(etag, coding)
                    if status == 304:
                        etag = _as_held(if_none_match, etag)
                    elif status == 200 and reading and none_match(if_none_match, etag):
                        status, dropping = 304, True
                    headers = [(k, v) for k, v in headers if k.lower() != b"etag"]
                    headers.append((b"etag", etag.encode("latin-1")))
                if status == 304:
                    headers = [(k, v) for k, v in headers if k.lower() not in _NOT_IN_304]
                order = ("Accept", "Accept-Language")
                headers = _with_vary(
                    headers, [n for n in order if n in varies] + ["Accept-Encoding"]
                )
                message = {**message, "status": status, "headers": headers}
            elif message["type"] == "http.response.body" and dropping:
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(scope, receive, send_conditional)


def _as_held(if_none_match: str | None, etag: str) -> str:
    """The ETag a 304 carries: the form (identity or gzip) of the tag the client sent."""
    tags = parse_entity_tags(if_none_match)
    if tags == "*":
        return etag
    current = parse_etag(etag)
    base = _identity(current.opaque)
    for tag in tags:
        if tag.opaque == current.opaque:
            return etag
    for tag in tags:
        if _identity(tag.opaque) == base:
            return str(EntityTag(tag.opaque, weak=current.weak))
    return etag
