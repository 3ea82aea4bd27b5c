"""Just enough DER (X.690) to look at what `cryptography` would otherwise warn about or hide: a
certificate's raw serial number, and the UTF8String inside a UPN otherName. It walks tags and
lengths with bounds checks and raises `ValueError` on anything it cannot walk.
"""

from __future__ import annotations


def _der_element(data: bytes, offset: int) -> tuple[int, int, int]:
    """Return ``(tag, value start, value end)`` of the DER element at `offset` (X.690 §8.1)."""
    if offset + 2 > len(data):
        raise ValueError("truncated")
    tag, length, position = data[offset], data[offset + 1], offset + 2
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag number")
    if length & 0x80:
        size = length & 0x7F
        if not 0 < size <= 4 or position + size > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[position : position + size], "big")
        position += size
    if position + length > len(data):
        raise ValueError("truncated")
    return tag, position, position + length


def _has_non_positive_serial(der: bytes) -> bool:
    try:
        _, certificate, _ = _der_element(der, 0)
        _, tbs, _ = _der_element(der, certificate)
        tag, start, end = _der_element(der, tbs)
        if tag == 0xA0:  # [0] EXPLICIT version precedes the serial
            tag, start, end = _der_element(der, end)
    except ValueError:
        return False  # not our call: cryptography refuses what does not even walk
    serial = der[start:end]
    return tag == 0x02 and bool(serial) and (serial[0] & 0x80 != 0 or not any(serial))


def _utf8_string(value: bytes) -> str | None:
    """Decode a DER UTF8String (tag 12) that fills `value` exactly, or return None."""
    try:
        tag, start, end = _der_element(value, 0)
        if tag != 0x0C or end != len(value):
            return None
        return value[start:end].decode("utf-8")
    except ValueError:  # includes UnicodeDecodeError
        return None
