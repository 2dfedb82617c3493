"""Run by Debian's /usr/bin/python3 (QGIS's own Python): open a package the way QGIS does.

Prints one JSON object: per layer its validity, feature count, whether QGIS found a
default style in the GeoPackage, the renderer type and its categories (value, colour);
renders the package to a PNG when asked. Not a pytest module (no test_ prefix).
"""

import json
import os
import sys

from qgis.core import (  # type: ignore[import-not-found]
    QgsApplication,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProviderRegistry,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize  # type: ignore[import-not-found]
from qgis.PyQt.QtGui import QColor  # type: ignore[import-not-found]


def main(path, names, png, bbox=""):
    app = QgsApplication([], False)
    app.initQgis()
    report = {}
    layers = []
    for name in names.split(","):
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        entry = {"valid": layer.isValid()}
        if layer.isValid():
            entry["count"] = layer.featureCount()
            metadata = QgsProviderRegistry.instance().providerMetadata("ogr")
            entry["style_exists"] = (
                bool(metadata.styleExists(f"{path}|layername={name}", name)[0])
                if hasattr(metadata, "styleExists")
                else None
            )
            count, ids, style_names, descriptions, error = layer.listStylesInDatabase()
            entry["styles_in_database"] = list(style_names)
            message, loaded = layer.loadDefaultStyle()
            entry["default_style_loaded"] = bool(loaded)
            renderer = layer.renderer()
            entry["renderer"] = renderer.type()
            if renderer.type() == "categorizedSymbol":
                entry["attr"] = renderer.classAttribute()
                entry["categories"] = [
                    [str(c.value()), c.label(), c.symbol().color().name()]
                    for c in renderer.categories()
                ]
            entry["labels"] = layer.labelsEnabled()
            layers.append(layer)
        report[name] = entry
    if png:
        settings = QgsMapSettings()
        drawn = [layer for layer in layers if layer.featureCount()]
        # The numbered stops over the villages they stop at, as on the web route map.
        drawn.sort(key=lambda layer: layer.name() != "route_stops")
        # QgsMapSettings draws the first layer on top: villages first.
        settings.setLayers(drawn)
        extent = QgsRectangle()
        for layer in drawn:
            if layer.name() in ("villages", "material_zones", "routes"):
                extent.combineExtentWith(layer.extent())
        extent.scale(1.05)
        if bbox:
            extent = QgsRectangle(*(float(v) for v in bbox.split(",")))
        settings.setExtent(extent)
        settings.setOutputSize(QSize(1280, 900))
        settings.setBackgroundColor(QColor("#f5f2e9"))
        job = QgsMapRendererParallelJob(settings)
        job.start()
        job.waitForFinished()
        job.renderedImage().save(png, "png")
    print(json.dumps(report, ensure_ascii=False), flush=True)
    # QGIS 3.22 segfaults tearing down layers at interpreter exit: leave at once.
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:3], *sys.argv[3:5])
