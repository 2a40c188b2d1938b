"""Text files as users save them: UTF-8 with or without a BOM, or GB18030/GBK (Excel on a
Chinese Windows saves CSV that way). One decoder for every file a user hands in (logger
exports, calendars), so a GBK file never ends in a `UnicodeDecodeError` traceback.
"""

from __future__ import annotations

import codecs
from pathlib import Path


class TextFileError(ValueError):
    """A file that cannot be read or decoded; the message names the file and what to do.
    For an undecodable file, `line`/`col` (1-based) and `byte` locate the first bad byte, so a
    caller can word the problem in its own language (the indicator inputs do, Chinese first)."""

    def __init__(
        self, message: str, line: int | None = None, col: int | None = None, byte: int | None = None
    ) -> None:
        super().__init__(message)
        self.line, self.col, self.byte = line, col, byte


def _where(data: bytes, start: int) -> tuple[int, int]:
    head = data[:start]
    line = head.count(b"\n") + 1
    col = len(head[head.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
    return line, col


def decode(data: bytes, name: str, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding used). `encoding` forces one; else UTF-8 (BOM dropped), then GB18030."""
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise TextFileError(f"--encoding: unknown encoding {encoding!r}") from None
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            line, col = _where(data, exc.start)
            raise TextFileError(
                f"{name}:{line}:{col}: not valid {encoding} (byte 0x{data[exc.start]:02x})",
                line,
                col,
                data[exc.start],
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        return decode(data[len(codecs.BOM_UTF8) :], name, "utf-8")[0], "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        line, col = _where(data, first_bad)
        raise TextFileError(
            f"{name}:{line}:{col}: neither UTF-8 nor GB18030/GBK (byte 0x{data[first_bad]:02x});"
            " save as UTF-8 or pass --encoding",
            line,
            col,
            data[first_bad],
        ) from None


def read_text(path: str | Path, encoding: str | None = None) -> tuple[str, str]:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise TextFileError(f"{p}: cannot read: {exc.strerror or exc}") from None
    return decode(data, str(p), encoding)


def detect(path: str | Path, encoding: str | None = None) -> str:
    """The encoding `read_text` would use for the file, to stream it (`open(..., encoding=)`)
    without holding its text: a multi-million-row export is read row by row."""
    return read_text(path, encoding)[1]
