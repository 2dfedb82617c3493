"""Run by Debian's /usr/bin/python3 (QGIS's own Python): open a package the way QGIS does.

Prints one JSON object: per layer its validity, feature count, whether QGIS found a
default style in the GeoPackage, the renderer type and its categories (value, colour);
renders the package to a PNG when asked. Not a pytest module (no test_ prefix).
"""

import json
import os
import sys

from qgis.core import (  # type: ignore[import-not-found]  # type: ignore[import-not-found]
    QgsApplication,
    QgsLayerTree,
    QgsLayerTreeModel,
    QgsLegendRenderer,
    QgsLegendSettings,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProviderRegistry,
    QgsRectangle,
    QgsRenderContext,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize  # type: ignore[import-not-found]
from qgis.PyQt.QtGui import QColor, QImage, QPainter  # type: ignore[import-not-found]
from qgis.PyQt.QtXml import QDomDocument  # type: ignore[import-not-found]

DOTS_PER_MM = 5


def legend(layers, png):
    """The layers' legend as QGIS draws it (category labels in the style's language)."""
    tree = QgsLayerTree()
    for layer in layers:
        if layer.name() in ("villages", "material_zones", "routes", "route_stops", "admin_units"):
            tree.addLayer(layer)
    # The model and settings must outlive the renderer (it keeps raw pointers to them).
    model = QgsLayerTreeModel(tree)
    settings = QgsLegendSettings()
    renderer = QgsLegendRenderer(model, settings)
    # Sized and drawn in one render context: millimetres at DOTS_PER_MM pixels each.
    probe = QImage(10, 10, QImage.Format_ARGB32)
    probe_painter = QPainter(probe)
    size = renderer.minimumSize(_context(probe_painter))
    probe_painter.end()
    image = QImage(
        int((size.width() + 4) * DOTS_PER_MM),
        int(size.height() * DOTS_PER_MM) + 1,
        QImage.Format_ARGB32,
    )
    image.fill(QColor("white"))
    painter = QPainter(image)
    # The legend renderer draws in millimetres on the painter: scale it to pixels.
    painter.scale(DOTS_PER_MM, DOTS_PER_MM)
    renderer.drawLegend(_context(painter))
    painter.end()
    image.save(png, "png")


def _context(painter):
    context = QgsRenderContext.fromQPainter(painter)
    context.setScaleFactor(DOTS_PER_MM)
    context.setFlag(QgsRenderContext.Antialiasing, True)
    return context


def load_named(layer, style_name):
    """Load one of the layer's styles stored in the GeoPackage, by name; whether it loaded."""
    count, ids, names, descriptions, error = layer.listStylesInDatabase()
    for style_id, name in zip(ids, names, strict=True):
        if name == style_name:
            qml, error = layer.getStyleFromDatabase(style_id)
            document = QDomDocument()
            document.setContent(qml)
            return layer.importNamedStyle(document)[0]
    return False


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
    if png:
        legend(layers, png.replace(".png", "-legend-vi.png"))
        english = [load_named(layer, f"{layer.name()} (en)") for layer in layers]
        report["_english_loaded"] = all(english)
        legend(layers, png.replace(".png", "-legend-en.png"))
    print(json.dumps(report, ensure_ascii=False), flush=True)
    # QGIS 3.22 segfaults tearing down layers at interpreter exit: leave at once.
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:3], *sys.argv[3:5])
