"""What an attached file is, read from its first bytes: the name a tester (or a client) gave it is only a hint.

An auditor opens attachments on their own machine, so the bundle must say what
each one really is. The content decides the family (PDF, image, zip, text,
HTML, binary); the extension only chooses within it (a zip named ``.docx`` is
a Word document, text named ``.csv`` is CSV). A name that claims another
family is kept as a mismatch note, never believed. HTML and SVG are *active*
content (they can run script in a browser): they are shipped as files and
never inlined.
"""

from __future__ import annotations

from dataclasses import dataclass

SNIFF_BYTES = 8192  # how much of the head is read to decide

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # old .doc/.xls/.msg
)
# Within a family, the extension may name the precise type.
_ZIP_KINDS = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".zip": "application/zip",
}
_TEXT_KINDS = {
    ".csv": "text/csv", ".json": "application/json", ".md": "text/markdown", ".log": "text/plain",
    ".txt": "text/plain", ".eml": "message/rfc822", ".yaml": "application/yaml", ".yml": "application/yaml",
    ".xml": "application/xml",
}
# What each extension claims, to notice a name that lies about the family.
_CLAIMS = {
    ".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".gif": "image/gif", ".gz": "application/gzip", ".html": "text/html", ".htm": "text/html",
    ".svg": "image/svg+xml", **_ZIP_KINDS, **_TEXT_KINDS,
}
ACTIVE = ("text/html", "image/svg+xml")


@dataclass(frozen=True)
class FileType:
    media_type: str
    active: bool  # could run script if a browser rendered it
    mismatch: str  # "" or why the name was not believed

    def describe(self) -> str:
        return self.media_type + (" (active content: shipped as a file, never rendered)" if self.active else "")


def _family(head: bytes) -> str:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return "application/octet-stream"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the end of the sniffed head
            return "application/octet-stream"
        text = head[:exc.start].decode("utf-8")
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if lowered.startswith(("<!doctype html", "<html", "<head", "<body", "<script", "<iframe")) or (
            "<script" in lowered or "<html" in lowered):
        return "text/html"
    if "<svg" in lowered[:1024]:
        return "image/svg+xml"
    return "text/plain"


def sniff(head: bytes, filename: str) -> FileType:
    """The type of a file whose first bytes are ``head`` (up to :data:`SNIFF_BYTES`) and whose name is ``filename``."""
    suffix = ""
    if "." in filename:
        suffix = "." + filename.rsplit(".", 1)[1].lower()
    family = _family(head)
    kind = family
    if family == "application/zip" and suffix in _ZIP_KINDS:
        kind = _ZIP_KINDS[suffix]
    elif family == "text/plain" and suffix in _TEXT_KINDS:
        kind = _TEXT_KINDS[suffix]
    claimed = _CLAIMS.get(suffix)
    mismatch = ""
    if claimed is not None and claimed != kind:
        mismatch = f"the name says {claimed} ({suffix}) but the content is {kind}"
    return FileType(kind, kind in ACTIVE, mismatch)


__all__ = ["ACTIVE", "FileType", "SNIFF_BYTES", "sniff"]
