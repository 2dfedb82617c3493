"""Escaping user text for each place it lands in on a map page, one helper per context.

Names, species, communes… are written by any key holder and read by everyone, admins
included: a name must never become markup or script. Server-side text goes through
``html_text`` (HTML, which folium may also wrap in a JavaScript template literal) or
``script_json`` (data for craftmap's own scripts); the browser side sets text with
``textContent`` or ``ESC_JS``'s ``esc``.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import quote

# Besides HTML's five: characters that mean something inside a JavaScript template
# literal (folium's tooltips and popups are `…` strings), end a line in old engines, or
# open a Jinja tag: branca parses each element's rendered output as a template again,
# so a name "{{ … }}" would run on the server.
_JS_SENSITIVE = str.maketrans(
    {
        "`": "&#96;",
        "$": "&#36;",
        "\\": "&#92;",
        "{": "&#123;",
        "}": "&#125;",
        "\u2028": "&#8232;",
        "\u2029": "&#8233;",
    }
)


def html_text(value: Any) -> str:
    """``value`` as HTML text or a quoted attribute value, also inert in a template literal.

    Entities, not backslashes: the browser shows the original characters, and nothing in
    the result can end a JavaScript string or start a ``${…}`` substitution.
    """
    return html.escape(str(value), quote=True).translate(_JS_SENSITIVE)


_SCRIPT_UNSAFE = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "'": "\\u0027",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


# JSON's own braces are always followed by a quote or a brace close, so a brace before
# {, % or # is inside a string: escaped, branca's second Jinja pass sees no tag.
_JINJA_OPEN = re.compile(r"\{(?=[{%#])")


def script_json(value: Any) -> str:
    """``value`` as a JavaScript expression safe inside a ``<script>`` element.

    No ``</script>``, ``<!--``, line separator or Jinja tag can survive: each becomes a
    JSON escape that parses back to the same text.
    """
    text = json.dumps(value, ensure_ascii=False).translate(_SCRIPT_UNSAFE)
    return _JINJA_OPEN.sub(r"\\u007b", text)


def url_text(url: str) -> str:
    """``url`` percent-encoded down to characters inert in a quoted JS string and in Jinja.

    For URLs folium writes raw into a script (the vector tile layer's); the service's root
    comes from the request's Host header when no public URL is configured.
    """
    return quote(url, safe=":/?#[]@!$&()*+,;=%-._~")


# The browser-side twin of ``html_text``, for markup built from data in a script.
ESC_JS = """function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}"""

_NONCE = re.compile(r"[A-Za-z0-9+/_=-]{16,}")
_SCRIPT_TAG = re.compile(r"<script(?=[\s>])", re.IGNORECASE)


def with_nonce(page: str, nonce: str) -> str:
    """``page`` with ``nonce`` on every ``<script>`` tag, for a CSP without 'unsafe-inline'.

    folium writes its inline scripts from many templates; tagging the rendered page
    reaches all of them. Only craftmap's own tags can match: every user text reached
    the page through ``html_text`` or ``script_json``, which leave no ``<`` behind.
    """
    if not _NONCE.fullmatch(nonce):
        raise ValueError("a CSP nonce is 16 or more base64 characters")
    return _SCRIPT_TAG.sub(f'<script nonce="{nonce}"', page)
