"""Response documents: links, the FeatureCollection and Feature envelopes, paging links,
tileset documents.

Features arrive as GeoJSON text written by PostGIS (geo.query.features); these functions
only put the envelope and the links around them, never re-encoding a feature.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

from api.negotiation import GEOJSON, HTML, JSON, MVT
from geo.query import tiles
from geo.query.features import DEFAULT_LIMIT, ItemsQuery, PageResult
from geo.store.catalog import Collection

Links = list[dict[str, str]]

TILEJSON = "application/json"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"


def link(
    href: str, rel: str, media_type: str | None = None, title: str | None = None
) -> dict[str, str]:
    """One link object of an OGC API response."""
    entry = {"href": href, "rel": rel}
    if media_type:
        entry["type"] = media_type
    if title:
        entry["title"] = title
    return entry


def page_links(
    here: str,
    query_items: list[tuple[str, str]],
    query: ItemsQuery,
    has_more: bool,
    collection_url: str,
) -> Links:
    """self, alternate, collection, and next/prev links of an items page.

    ``here`` is the page's URL without its query string, ``query_items`` the query string
    as sent (``f`` and ``offset`` are replaced).
    """
    # Plain urlencode: Starlette's URL helpers re-parse the URL on every call.
    kept = [(k, v) for k, v in query_items if k != "f"]
    paging = [(k, v) for k, v in kept if k != "offset"]

    def url(params: list[tuple[str, str]]) -> str:
        return f"{here}?{urlencode(params)}"

    step = query.limit or DEFAULT_LIMIT
    links = [
        link(url([*kept, ("f", "json")]), "self", GEOJSON, "this page"),
        link(url([*kept, ("f", "html")]), "alternate", HTML, "HTML"),
        link(collection_url, "collection", JSON, "the collection"),
    ]
    if has_more:
        links.append(link(url([*paging, ("offset", str(query.offset + step))]), "next", GEOJSON))
    if query.offset > 0:
        previous = str(max(0, query.offset - step))
        links.append(link(url([*paging, ("offset", previous)]), "prev", GEOJSON))
    return links


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def feature_collection(
    batches: Iterator[list[bytes]],
    result: PageResult,
    links_for: Callable[[PageResult], Links],
    *,
    count_if_empty: Callable[[], int | None] | None = None,
) -> Iterator[bytes]:
    """A FeatureCollection written as PostGIS hands over its features, a chunk at a time.

    ``batches`` fill ``result`` as they are read. With ``count_if_empty`` they come from a
    counted statement: numberMatched comes from its first row, so that row is read before
    the head is written.
    """
    try:
        first_batch = next(batches, [])
        head = '{"type":"FeatureCollection",'
        if count_if_empty is not None:
            matched = result.matched if first_batch else count_if_empty()
            if matched is not None:
                head += f'"numberMatched":{matched},'
        yield (head + f'"timeStamp":"{_now()}","features":[').encode()
        separator = b""
        for batch in itertools.chain([first_batch], batches):
            if batch:
                yield separator + b",".join(batch)
                separator = b","
        tail = f'],"numberReturned":{result.returned},"links":{json.dumps(links_for(result))}}}'
        yield tail.encode()
    finally:
        # Closed here, not when the garbage collector gets to it: ``batches`` may hold a
        # server-side cursor in a transaction block, which must end before the caller
        # gives the connection back.
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def feature_links(root: str, collection_id: str, feature_id: int) -> Links:
    """The links of a single feature."""
    here = f"{root}/collections/{collection_id}/items/{feature_id}"
    return [
        link(here, "self", GEOJSON),
        link(f"{here}?f=html", "alternate", HTML),
        link(f"{root}/collections/{collection_id}", "collection", JSON),
        link(f"{here}/history", "version-history", JSON),
    ]


def feature_document(text: str, links: Links) -> str:
    """A feature's GeoJSON text (as PostGIS wrote it) with its links added."""
    return text[:-1] + f',"links":{json.dumps(links)}}}'


def tileset(root: str, prefix: str, title: str) -> dict[str, Any]:
    """A tileset as listed in ``…/tiles``: what OGC API – Tiles requires of a summary."""
    here = f"{root}{prefix}/tiles/WebMercatorQuad"
    template = f"{here}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    return {
        "title": title,
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": TMS_URI,
        "links": [
            link(here, "self", JSON),
            link(
                f"{root}/tileMatrixSets/WebMercatorQuad",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                JSON,
            ),
            # /req/tileset/description: a link with a URI template says so.
            {**link(template, "item", MVT, "MVT tiles"), "templated": True},
            link(f"{here}/tilejson.json", "describedby", TILEJSON, "TileJSON"),
        ],
    }


def tileset_document(
    root: str,
    prefix: str,
    title: str,
    layers: list[Collection],
    bbox: list[float] | None,
    cap: int,
) -> dict[str, Any]:
    """The tileset document itself: the summary plus its layers, limits and cap."""
    document = tileset(root, prefix, title)
    document["description"] = tiles.tileset_description(cap)
    document["layers"] = [tiles.layer_description(c) for c in layers]
    if bbox is not None:
        document["boundingBox"] = {
            "lowerLeft": bbox[:2],
            "upperRight": bbox[2:],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        }
        # Clients ask for no tile outside the data (an empty collection has no limits).
        document["tileMatrixSetLimits"] = tiles.matrix_limits(bbox)
    return document
