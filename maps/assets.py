"""The scripts, stylesheets, fonts and images the map pages need, served by craftmap itself.

folium's pages load Leaflet and its plugins from public CDNs; provincial offices often sit
on intranets. The same files come here from the npm registry, pinned by version and by the
registry's SHA-512 integrity, unpacked once (``craftmap map assets``, which ``make run``,
``make test`` and the Dockerfile call) and served under ``/static/vendor``. Every CDN
address folium writes is rewritten to the local copy; a page that still names an address
we do not serve fails loudly instead of reaching out to the internet.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
URL_PREFIX = "/static/vendor"


@dataclass(frozen=True)
class NpmPackage:
    """A pinned npm package: name, version and the registry's integrity string."""

    name: str
    version: str
    integrity: str

    @property
    def folder(self) -> str:
        """Where the package is unpacked, below the vendor folder."""
        return f"{self.name.replace('/', '__')}@{self.version}"

    @property
    def tarball(self) -> str:
        """The registry URL of the package's tarball."""
        short = self.name.rsplit("/", 1)[-1]
        return f"{REGISTRY}/{self.name}/-/{short}-{self.version}.tgz"


PACKAGES = (
    NpmPackage(
        "jquery",
        "3.7.1",
        "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
    ),
    NpmPackage(
        "leaflet",
        "1.9.3",
        "sha512-iB2cR9vAkDOu5l3HAay2obcUHZ7xwUBBjph8+PGtmW/2lYhbLizWtG7nTeYht36WfOslixQF9D/uSIzhZgGMfQ==",
    ),
    NpmPackage(
        "@fortawesome/fontawesome-free",
        "6.2.0",
        "sha512-CNR7qRIfCwWHNN7FnKUniva94edPdyQzil/zCwk3v6k4R6rR2Fr8i4s3PM7n/lyfPA6Zfko9z5WDzFxG9SW1uQ==",
    ),
    NpmPackage(
        "leaflet.markercluster",
        "1.1.0",
        "sha512-eI+XkCiLiHwCC3uZ4/n4+Vq3rXcqEHN2lhHRVG1WVziy/3Q0TTipWkzEa1zO0dKZI2AnI5ppFDWrOjnQ7MJLKQ==",
    ),
    NpmPackage(
        "leaflet.fullscreen",
        "3.0.0",
        "sha512-81wWSUXz1ZtdneR0v5eJDWXUSx+Zo5J50WXWeydG/UcILfIEAgz/iOjZSi3p00Z9MJ/FC/P5i3CgdYuEAos0yQ==",
    ),
    NpmPackage(
        "leaflet-measure",
        "2.1.7",
        "sha512-IvoHIoVTIQSXUgaNnAMF17qXFB+dF5ICdwmY8BHyq/Hh33/xeGqQUUYlz0pRMzFN9NUcjsT6JBhCr1ia0CG5ug==",
    ),
    NpmPackage(
        "leaflet-draw",
        "1.0.4",
        "sha512-rsQ6saQO5ST5Aj6XRFylr5zvarWgzWnrg46zQ1MEOEIHsppdC/8hnN8qMoFvACsPvTioAuysya/TVtog15tyAQ==",
    ),
    NpmPackage(
        "leaflet.vectorgrid",
        "1.3.0",
        "sha512-kWmj1pKM+MVdo/7Mg5zsB3YrGZvo/uIuiANV9MvWUFOG+Y2xAJzrteDhoIcCgTjHSSRJ36xdeGdIQVhuWjnCZw==",
    ),
    # Natural Earth's countries and land (public domain) as TopoJSON, for the offline
    # context under every map (maps/context.py).
    NpmPackage(
        "world-atlas",
        "2.0.2",
        "sha512-IXfV0qwlKXpckz1FhwXVwKRjiIhOnWttOskm5CtxMsjgE/MXAYRHWJqgXOpM8IkcPBoXnyTU5lFHcYa5ChG0LQ==",
    ),
)
_BY_NAME = {p.name: p for p in PACKAGES}
WORLD_ATLAS = _BY_NAME["world-atlas"]
# craftmap's own file in world-atlas's folder: the region's land and borders as a script.
CONTEXT_SCRIPT = "craftmap-context.js"


def _local(package: str, path: str) -> str:
    return f"{URL_PREFIX}/{_BY_NAME[package].folder}/{path}"


# Every script and stylesheet the craftmap pages use, by the name folium gives it.
# Bootstrap, the glyphicons and awesome-markers are left out: the pages use none of them
# (markers are div icons). jQuery stays: folium builds popups with it.
SCRIPTS = {
    "jquery": _local("jquery", "dist/jquery.min.js"),
    "leaflet": _local("leaflet", "dist/leaflet.js"),
    "markerclusterjs": _local("leaflet.markercluster", "dist/leaflet.markercluster.js"),
    "Control.Fullscreen.js": _local("leaflet.fullscreen", "Control.FullScreen.js"),
    "leaflet_measure_js": _local("leaflet-measure", "dist/leaflet-measure.js"),
    "leaflet_draw_js": _local("leaflet-draw", "dist/leaflet.draw.js"),
    "vectorGrid": _local("leaflet.vectorgrid", "dist/Leaflet.VectorGrid.bundled.min.js"),
    "craftmap_context": _local("world-atlas", CONTEXT_SCRIPT),
}
STYLESHEETS = {
    "leaflet_css": _local("leaflet", "dist/leaflet.css"),
    "fontawesome_css": _local("@fortawesome/fontawesome-free", "css/all.min.css"),
    "markerclustercss": _local("leaflet.markercluster", "dist/MarkerCluster.css"),
    "markerclusterdefaultcss": _local("leaflet.markercluster", "dist/MarkerCluster.Default.css"),
    "Control.FullScreen.css": _local("leaflet.fullscreen", "Control.FullScreen.css"),
    "leaflet_draw_css": _local("leaflet-draw", "dist/leaflet.draw.css"),
    "leaflet_measure_css": _local("leaflet-measure", "dist/leaflet-measure.css"),
}


def missing(folder: Path) -> list[NpmPackage]:
    """The packages not yet unpacked in ``folder`` (or whose derived context is missing)."""
    return [
        p
        for p in PACKAGES
        if not (folder / p.folder / "package.json").exists()
        or (p is WORLD_ATLAS and not (folder / p.folder / CONTEXT_SCRIPT).exists())
    ]


def fetch(folder: Path) -> list[NpmPackage]:
    """Download and unpack the missing packages into ``folder``; return what was fetched.

    Raises
    ------
    RuntimeError
        When a download fails or a tarball does not match its pinned integrity.
    """
    fetched = []
    for package in missing(folder):
        if (folder / package.folder / "package.json").exists():
            _derive(package, folder)
            continue
        try:
            with urllib.request.urlopen(package.tarball, timeout=60) as response:
                data = response.read()
        except OSError as exc:
            raise RuntimeError(f"cannot download {package.tarball}: {exc}") from exc
        algorithm, _, expected = package.integrity.partition("-")
        digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
        if digest != expected:
            raise RuntimeError(f"{package.name}@{package.version}: integrity mismatch")
        target = folder / package.folder
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive.getmembers():
                # npm tarballs put everything under package/; nothing may escape the target.
                relative = Path(member.name).relative_to("package")
                if not member.isfile() or ".." in relative.parts:
                    continue
                out = target / relative
                out.parent.mkdir(parents=True, exist_ok=True)
                extracted = archive.extractfile(member)
                if extracted is not None:
                    out.write_bytes(extracted.read())
        _derive(package, folder)
        fetched.append(package)
    return fetched


def _derive(package: NpmPackage, folder: Path) -> None:
    if package is WORLD_ATLAS:
        # Imported here: maps.context reads this module's names at import.
        from maps import context

        context.write_context_script(folder / package.folder)


def inline(page: str, folder: Path) -> str:
    """A page with craftmap's vendored scripts and stylesheets written into it.

    For standalone exports (``craftmap map overview --out``): the file opens from a disk or
    an e-mail with no server and no internet. The fonts and images that the stylesheets
    name go in as data URIs too (see ``inline_css``).
    """
    pattern = re.compile(
        r'<script src="(?P<js>/static/vendor/[^"]+)"></script>'
        r'|<link rel="stylesheet" href="(?P<css>/static/vendor/[^"]+)"\s*/?>'
    )

    def replace(match: re.Match[str]) -> str:
        url = match.group("js") or match.group("css")
        path = folder / url.removeprefix(URL_PREFIX + "/")
        text = path.read_text(encoding="utf-8")
        if match.group("js"):
            # A literal end tag inside a script would close it early.
            safe = text.replace("</script", "<\\/script")
            return f"<script>{safe}</script>"
        return f"<style>{inline_css(text, path.parent, folder)}</style>"

    return pattern.sub(replace, page)


_MEDIA_TYPES = {
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
}
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}")
_URL = re.compile(r"""url\(\s*(?P<q>['"]?)(?P<url>[^'")]+)(?P=q)\s*\)""")
# One source of a @font-face ``src`` list: url(...) with its optional format(...).
_FONT_SOURCE = re.compile(r"""url\([^)]*\)(\s*format\([^)]*\))?""")
_FONT_SRC = re.compile(r"src\s*:[^;}]*")


def _data_uri(path: Path) -> str:
    media = _MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{media};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def inline_css(css: str, base: Path, folder: Path) -> str:
    """``css`` (a stylesheet from ``base``) with the files its ``url()`` names as data URIs.

    Only files inside ``folder`` are read; anything else (``#default#VML``, a URL with a
    scheme) is left as written. Each font file goes in once, as WOFF2 when the rule offers
    it: Font Awesome names the same three files under eight family aliases and a TrueType
    twin, which inlined as written would add some 2 MB instead of 400 KB.
    """
    root = folder.resolve()
    fonts_seen: set[Path] = set()

    def local(url: str) -> Path | None:
        if ":" in url or url.startswith(("#", "/")):
            return None
        path = (base / url.split("#")[0].split("?")[0]).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None

    def face(match: re.Match[str]) -> str:
        rule = match.group(0)
        sources = [s.group(0) for s in _FONT_SOURCE.finditer(rule)]
        woff2 = [s for s in sources if "woff2" in s]
        files = {p for s in woff2 or sources for u in _URL.finditer(s) if (p := local(u["url"]))}
        if files and files <= fonts_seen:
            return ""  # an alias of a face already written
        fonts_seen.update(files)
        if woff2:
            # The other formats go: every browser that runs Leaflet 1.9 reads WOFF2.
            rule = _FONT_SRC.sub(lambda _m: "src:" + ",".join(woff2), rule)
        return rule

    def url(match: re.Match[str]) -> str:
        path = local(match["url"])
        return f'url("{_data_uri(path)}")' if path else match.group(0)

    return _URL.sub(url, _FONT_FACE.sub(face, css))
