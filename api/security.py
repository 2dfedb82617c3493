"""Security headers on every response, and a Content-Security-Policy on every HTML page.

Each request gets a fresh nonce in ``request.state.csp_nonce``; pages put it on the inline
scripts they generate (``maps.escape.with_nonce``), and the policy lets nothing else run.
Escaping keeps user text out of markup; the policy is the second wall if escaping slips.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Set on every response: no MIME sniffing, no full URLs (with their queries) sent to
# other sites, no framing of craftmap by another site.
ALWAYS_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
# Data and files are never documents: nothing may run or load in their name.
NOT_HTML_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def origin(url: str | None) -> str | None:
    """The CSP source of an XYZ or page URL (``{s}`` subdomains become ``*``), or None."""
    if not url or url == "none":
        return None
    parts = urlsplit(url.replace("{s}", "*"))
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}"


def content_security_policy(
    nonce: str, *, img_sources: tuple[str, ...] = (), allow_eval: bool = False
) -> str:
    """The policy of an HTML page whose own inline scripts carry ``nonce``."""
    script = f"'self' 'nonce-{nonce}'"
    if allow_eval:
        # leaflet-measure compiles its lodash templates with new Function() at load time.
        script += " 'unsafe-eval'"
    images = " ".join(("'self'", "data:", *img_sources))
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {script}",
            # Leaflet positions everything with style attributes, and folium writes
            # <style> blocks; styles cannot run script.
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeadersMiddleware:
    """Adds the security headers, and the CSP with this request's nonce on HTML.

    A plain ASGI middleware (like ``api.logs.RequestLogMiddleware``): streamed responses
    pass through untouched. A route that needs eval sets ``request.state.csp_allow_eval``.
    """

    def __init__(self, app: ASGIApp, *, basemap_url: str | None = None) -> None:
        self.app = app
        tiles = origin(basemap_url)
        self.img_sources = (tiles,) if tiles else ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Give the request its nonce; add the headers when the response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        state = scope.setdefault("state", {})
        state["csp_nonce"] = nonce

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in _OWN_HEADERS
                ]
                headers.extend(ALWAYS_HEADERS)
                if message.get("status") == 304:
                    # A 304's headers update the cached response: a policy here would
                    # replace the stored page's own (and its nonce) and block its styles.
                    message["headers"] = headers
                    await send(message)
                    return
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.lower().startswith(b"text/html"):
                    policy = content_security_policy(
                        nonce,
                        img_sources=self.img_sources,
                        allow_eval=bool(state.get("csp_allow_eval")),
                    )
                else:
                    policy = NOT_HTML_POLICY
                headers.append((b"content-security-policy", policy.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


_OWN_HEADERS = {k for k, _ in ALWAYS_HEADERS} | {b"content-security-policy"}
