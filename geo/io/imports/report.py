"""An import's report as CSV and as a bilingual HTML page (every cell escaped)."""

from __future__ import annotations

import csv
import html
import io
from typing import Any

from geo.kernel.text import Text, language, number

STATUS = {
    "ok": Text("Hợp lệ", "OK"),
    "repaired": Text("Đã sửa", "Repaired"),
    "warning": Text("Cảnh báo", "Warning"),
    "rejected": Text("Bị từ chối", "Rejected"),
}
ACTION = {
    "insert": Text("thêm mới", "new"),
    "update": Text("cập nhật", "update"),
    "unchanged": Text("không đổi", "unchanged"),
    "": Text("không ghi", "not written"),
}
WORDS = {
    "title": Text("Báo cáo nhập dữ liệu", "Import report"),
    "file": Text("Tệp", "File"),
    "into": Text("Nhập vào", "Into"),
    "layer": Text("Lớp", "Layer"),
    "crs": Text("Hệ tọa độ", "Coordinate system"),
    "encoding": Text("Bảng mã", "Text encoding"),
    "dry_run": Text("Chạy thử: chưa ghi gì", "Dry run: nothing written"),
    "applied": Text("Đã nhập", "Imported"),
    "refused": Text("Không ghi gì: còn dòng bị từ chối", "Nothing written: rows were rejected"),
    "rows": Text("Số dòng", "Rows"),
    "inserted": Text("Thêm mới", "New"),
    "updated": Text("Cập nhật", "Changed"),
    "unchanged": Text("Không đổi", "Unchanged"),
    "repaired": Text("Đã sửa hình", "Repaired"),
    "warning": Text("Cảnh báo", "Warnings"),
    "rejected": Text("Bị từ chối", "Rejected"),
    "row": Text("Dòng", "Row"),
    "key": Text("Mã", "Code"),
    "name": Text("Tên", "Name"),
    "status": Text("Kết quả", "Result"),
    "action": Text("Thao tác", "Action"),
    "reasons": Text("Lý do", "Reasons"),
    "notes": Text("Ghi chú khi đọc tệp", "Notes on reading the file"),
    "mapping": Text("Ánh xạ cột", "Column mapping"),
    "reassigned": Text("Làng nghề được gán lại xã", "Villages moved to another commune"),
    "village": Text("Làng nghề", "Village"),
    "old_commune": Text("Mã xã cũ", "Old commune code"),
    "new_commune": Text("Mã xã mới", "New commune code"),
    "hash": Text("Mã băm SHA-256", "SHA-256"),
    "field": Text("Trường craftmap", "craftmap field"),
    "column": Text("Cột trong tệp", "Column in the file"),
}
CSV_COLUMNS = ("row", "key", "name", "status", "action", "reasons")


def as_csv(report: dict[str, Any]) -> str:
    """One line per row of the file: row, key, name, status, action, reasons (``; ``-joined).

    UTF-8 with a byte-order mark is the caller's to add for Excel; cells starting with
    ``=``, ``+``, ``-`` or ``@`` are quoted with a leading apostrophe so that a spreadsheet
    shows them rather than running them.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in report["rows"]:
        writer.writerow(
            [
                row["row"],
                _cell(row["key"]),
                _cell(row["name"]),
                row["status"],
                row["action"],
                _cell("; ".join(row["reasons"])),
            ]
        )
    return out.getvalue()


def _cell(value: str) -> str:
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


_STYLE = """
body{font-family:system-ui,"Segoe UI",Roboto,sans-serif;margin:0;padding:16px;color:#1d2b24;
line-height:1.45;background:#fafaf7}
h1{font-size:1.4rem;margin:0 0 8px}
.verdict{padding:10px 12px;border-radius:6px;margin:8px 0 16px;font-weight:600}
.verdict.ok{background:#e3f1e6;border:1px solid #5d9b6a}
.verdict.bad{background:#fbe6e3;border:1px solid #c0574a}
.verdict.dry{background:#fff6db;border:1px solid #c9a23a}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 12px}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
.counts{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 16px;padding:0;list-style:none}
.counts li{background:#fff;border:1px solid #d5d9d2;border-radius:6px;padding:6px 10px}
.counts b{display:block;font-size:1.2rem}
.table{overflow-x:auto}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #d5d9d2;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1ec}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.s-rejected{background:#fbe6e3}.s-repaired{background:#e8f0fb}.s-warning{background:#fff6db}
ul.reasons{margin:0;padding-left:18px}
section{margin:16px 0}
h2{font-size:1.1rem}
td.key{white-space:nowrap}
td{overflow-wrap:break-word}
/* A phone shows each row of the file as a card: every cell with its heading. */
@media (max-width:600px){body{padding:10px}
table.rows,table.rows tbody,table.rows tr,table.rows td{display:block;width:auto}
table.rows thead{display:none}
table.rows tr{border:1px solid #d5d9d2;border-radius:6px;margin:0 0 10px;padding:4px 0}
table.rows td{border:0;padding:2px 10px;text-align:left;white-space:normal;overflow-wrap:anywhere}
table.rows td::before{content:attr(data-label);display:block;font-size:.8rem;color:#56635b;
font-weight:600}}
"""


def as_html(report: dict[str, Any], lang: str = "vi") -> str:
    """A readable page of the report in ``lang`` (vi or en); every value is escaped."""
    lang = language(lang)

    def w(key: str) -> str:
        return html.escape(WORDS[key](lang))

    def e(value: Any) -> str:
        return html.escape("" if value is None else str(value))

    counts = report["counts"]
    if counts["rejected"]:
        verdict, css = WORDS["refused"](lang), "bad"
    elif report["dry_run"]:
        verdict, css = WORDS["dry_run"](lang), "dry"
    else:
        verdict, css = WORDS["applied"](lang), "ok"
    parts = [
        "<!doctype html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{w('title')}: {e(report['file'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{w('title')}: {e(report['file'])}</h1>",
        f'<p class="verdict {css}">{html.escape(verdict)}</p>',
        "<dl>",
        f"<dt>{w('into')}</dt><dd>{e(report['into'])}</dd>",
        f"<dt>{w('layer')}</dt><dd>{e(report['layer'])} ({e(report['driver'])})</dd>",
        f"<dt>{w('crs')}</dt><dd>{e(report['crs'])}</dd>",
        f"<dt>{w('encoding')}</dt><dd>{e(report['encoding'])}</dd>",
        f"<dt>{w('hash')}</dt><dd><code>{e(report['sha256'])}</code></dd>",
        "</dl>",
        '<ul class="counts">',
    ]
    for key in ("rows", "inserted", "updated", "unchanged", "repaired", "warning", "rejected"):
        parts.append(f"<li>{w(key)}<b>{e(number(int(counts[key]), lang))}</b></li>")
    parts.append("</ul>")
    if report["notes"]:
        parts.append(f"<section><h2>{w('notes')}</h2><ul>")
        parts += [f"<li>{e(note)}</li>" for note in report["notes"]]
        parts.append("</ul></section>")
    columns = report["mapping"].get("columns", {})
    if columns:
        parts.append(
            f'<section><h2>{w("mapping")}</h2><div class="table"><table><thead><tr>'
            f"<th>{w('column')}</th><th>{w('field')}</th></tr></thead><tbody>"
        )
        parts += [f"<tr><td>{e(src)}</td><td>{e(dst)}</td></tr>" for dst, src in columns.items()]
        parts.append("</tbody></table></div></section>")
    if report.get("reassigned"):
        parts.append(
            f'<section><h2>{w("reassigned")}</h2><div class="table"><table><thead><tr>'
            f"<th>{w('village')}</th><th>{w('old_commune')}</th><th>{w('new_commune')}</th>"
            "</tr></thead><tbody>"
        )
        parts += [
            f"<tr><td>{e(c['village'])} {e(c['name'])}</td><td>{e(c['old_commune_code'])}</td>"
            f"<td>{e(c['new_commune_code'])} {e(c['new_commune_name'])}</td></tr>"
            for c in report["reassigned"]
        ]
        parts.append("</tbody></table></div></section>")
    parts.append(
        '<section><div class="table"><table class="rows"><thead><tr>'
        + "".join(f"<th>{w(k)}</th>" for k in CSV_COLUMNS)
        + "</tr></thead><tbody>"
    )
    label = {k: w(k) for k in CSV_COLUMNS}
    for row in report["rows"]:
        reasons = "".join(f"<li>{e(r)}</li>" for r in row["reasons"])
        parts.append(
            f'<tr class="s-{e(row["status"])}">'
            f'<td class="n" data-label="{label["row"]}">{e(row["row"])}</td>'
            f'<td class="key" data-label="{label["key"]}">{e(row["key"])}</td>'
            f'<td data-label="{label["name"]}">{e(row["name"])}</td>'
            f'<td data-label="{label["status"]}">{html.escape(STATUS[row["status"]](lang))}</td>'
            f'<td data-label="{label["action"]}">'
            f"{html.escape(ACTION.get(row['action'], ACTION[''])(lang))}</td>"
            f'<td data-label="{label["reasons"]}"><ul class="reasons">{reasons}</ul></td></tr>'
        )
    parts.append("</tbody></table></div></section></body></html>")
    return "\n".join(parts)
