"""Bytes to text: UTF-8 when it is, else the legacy encoding the bytes were most likely
written in. Only truly binary data is refused."""

from __future__ import annotations

import codecs

# Text whose bytes are mostly ASCII with a few high bytes ("£", "é", curly quotes) is Western
# legacy text: Windows-1252, the default of the WHATWG encoding standard for it. Detectors
# misjudge such short runs (a Latin-1 "£5" reads as Polish "Ł5"), so they decide only for
# text with many high bytes (Cyrillic, Greek, CJK), where they are reliable.
_WESTERN_HIGH_SHARE = 0.2
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip


class BinaryData(ValueError):
    """The bytes are not text in any encoding."""


def decode(data: bytes) -> tuple[str, str]:
    """The text and the name of the encoding it was read in; newlines normalised to "\\n"."""
    text, encoding = _decode(data)
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


def _decode(data: bytes) -> tuple[str, str]:
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError:
                break
    if b"\x00" in data or _control_share(data[:65536]) > 0.05:
        raise BinaryData("binary file")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    high = sum(1 for byte in data if byte > 0x7F)
    if high / max(len(data), 1) >= _WESTERN_HIGH_SHARE:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is not None:
            return str(best), best.encoding
        raise BinaryData("binary file (no text encoding fits)")
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        return data.decode("latin-1"), "latin-1"


def _control_share(data: bytes) -> float:
    controls = sum(1 for byte in data if byte < 0x20 and byte not in b"\t\n\r\f")
    return controls / max(len(data), 1)
