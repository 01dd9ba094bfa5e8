"""The workpapers' XLSX package: openpyxl writes the workbook's frame, Redline writes the rows.

openpyxl builds each cell as an object, registers its style through hashed
style objects and serialises it through lxml: about 40 µs a cell, most of an
export's time with 10,000 turns. Here each sheet is declared to openpyxl
without rows (its columns, panes, print setup, filter), and while openpyxl
writes the package, the sheet's rows are written straight into its
``<sheetData>`` as text, in the exact bytes openpyxl's own write-only writer
gives (lxml's escaping: ``& < >``, a carriage return as ``&#13;``, everything
outside ASCII as a character reference). Each distinct cell style is still
made by openpyxl, once, from the first cell that needs it, so ``styles.xml``
and every ``s=`` index are what openpyxl would have written.

Every zip entry gets the fixed date and attributes of the bundle
(:func:`app.evidence.archive.fixed_info`), so the package needs no second pass
to make it repeatable; it is written into any seekable binary stream.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from app.evidence.archive import fixed_info

SHEET_DATA = b"<sheetData></sheetData>"
_ROWS_PLACEHOLDER = 987654321  # the filter's last row, until the sheet's rows are counted
_FLUSH_AT = 1 << 16

def escape(text: str) -> str:
    """Text as lxml writes it inside an element of an ASCII-encoded document."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    if not text.isascii():
        text = text.encode("ascii", "xmlcharrefreplace").decode("ascii")
    return text


class SheetRows:
    """One sheet's rows as ``<row>`` elements, with the style index of each cell kept as openpyxl would give it.

    A cell comes as (the value shown: ``str``, number, ``datetime`` or
    ``date``; its style key; the value as given). The first cell of each style
    key is built by ``make_cell`` as an openpyxl cell, so its style lands in the
    workbook's own tables in first-use order, as openpyxl's writer would put it;
    its index is reused for every later cell of that key.
    """

    def __init__(self, ws: Any, columns: int, make_cell: Callable[[Any, Any], Any],
                 styles: dict[Any, str]) -> None:
        from openpyxl.utils import get_column_letter

        self._letters = [get_column_letter(i) for i in range(1, columns + 1)]
        self._make_cell = make_cell
        self._styles = styles  # shared by every sheet of the workbook, as openpyxl's style table is
        self.count = 0

    def style(self, key: Any, value: Any) -> str:
        found = self._styles.get(key)
        if found is None:
            found = self._styles[key] = str(self._make_cell(key, value).style_id)
        return found

    def row(self, cells: Sequence[tuple[Any, Any, Any]]) -> str:
        """One ``<row>``: ``cells`` are (shown value, style key, original value) triples."""
        from openpyxl.utils.datetime import to_excel

        self.count += 1
        n = self.count
        out = [f'<row r="{n}">']
        for letter, (shown, key, original) in zip(self._letters, cells, strict=False):
            s = self._styles.get(key) or self.style(key, original)
            if isinstance(shown, str):
                if not shown:
                    out.append(f'<c r="{letter}{n}" s="{s}" t="inlineStr"></c>')
                    continue
                space = ' xml:space="preserve"' if shown != shown.strip() else ""
                out.append(f'<c r="{letter}{n}" s="{s}" t="inlineStr"><is><t{space}>{escape(shown)}</t></is></c>')
                continue
            if isinstance(shown, (datetime, date)):
                shown = to_excel(shown)
            number = f"{shown:.16g}" if math.isfinite(shown) else ""  # openpyxl writes NaN and infinity as empty
            out.append(f'<c r="{letter}{n}" s="{s}" t="n"><v>{number}</v></c>')
        out.append("</row>")
        return "".join(out)


class _FixedZip(zipfile.ZipFile):
    """openpyxl's package writer: every entry dated and permissioned like the bundle's, sheets filled as written."""

    def __init__(self, target: IO[bytes], fill: Callable[[str, bytes, IO[bytes]], bool]) -> None:
        super().__init__(target, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self._fill = fill

    def writestr(self, zinfo_or_arcname: Any, data: Any, compress_type: int | None = None,
                 compresslevel: int | None = None) -> None:
        name = zinfo_or_arcname.filename if isinstance(zinfo_or_arcname, zipfile.ZipInfo) else zinfo_or_arcname
        with self.open(fixed_info(name), "w") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)

    def write(self, filename: Any, arcname: Any = None, compress_type: int | None = None,
              compresslevel: int | None = None) -> None:
        frame = Path(filename).read_bytes()
        with self.open(fixed_info(arcname or Path(filename).name), "w") as out:
            if not self._fill(arcname, frame, out):
                out.write(frame)


def write_package(wb: Any, target: IO[bytes], sheets: Sequence[tuple[Any, str, Callable[[], Iterator[str]]]]) -> None:
    """Save ``wb`` (write-only, its sheets without rows) into ``target``, each sheet's rows streamed in.

    ``sheets``: per worksheet, in workbook order, (worksheet, last column
    letter, a function giving its rows as ``<row>`` texts). Each sheet's filter
    covers its header and rows; it is set to the real row count once counted,
    before ``workbook.xml`` (which names the filter range) is written.
    """
    from openpyxl.writer.excel import ExcelWriter

    by_path = {f"xl/worksheets/sheet{index}.xml": entry for index, entry in enumerate(sheets, start=1)}
    for ws, last, _ in sheets:
        ws.auto_filter.ref = f"A1:{last}{_ROWS_PLACEHOLDER}"

    def fill(arcname: str, frame: bytes, out: IO[bytes]) -> bool:
        entry = by_path.get(arcname)
        if entry is None:
            return False
        ws, last, rows = entry
        head, marker, tail = frame.partition(SHEET_DATA)
        if not marker:
            raise ValueError(f"{arcname}: openpyxl wrote no empty <sheetData> to fill")
        out.write(head + b"<sheetData>")
        count = 0
        pending: list[str] = []
        size = 0
        for row in rows():
            count += 1
            pending.append(row)
            size += len(row)
            if size >= _FLUSH_AT:
                out.write("".join(pending).encode("ascii"))
                pending, size = [], 0
        out.write("".join(pending).encode("ascii"))
        ref = f"A1:{last}{count}"
        out.write(b"</sheetData>" + tail.replace(f'ref="A1:{last}{_ROWS_PLACEHOLDER}"'.encode(),
                                                  f'ref="{ref}"'.encode()))
        ws.auto_filter.ref = ref
        return True

    with _FixedZip(target, fill) as archive:
        ExcelWriter(wb, archive).write_data()
