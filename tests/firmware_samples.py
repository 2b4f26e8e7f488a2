"""Real-shaped firmware files, built byte by byte the way esptool lays them out.

Used by the firmware tests and the upload benchmark. `salt` changes the bytes (and so the
md5) without changing the headers, so each test can upload a file nobody uploaded before.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import zipfile

CHIP_IDS = {"ESP32": 0, "ESP32-S2": 2, "ESP32-C3": 5, "ESP32-S3": 9, "ESP32-C6": 13}


def _filler(size: int, salt: str) -> bytes:
    """Deterministic pseudo-random bytes (a hash chain), so files differ by their salt."""
    out = bytearray()
    seed = hashlib.sha256(salt.encode()).digest()
    while len(out) < size:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:size])


def _pad(head: bytes, size: int, salt: str) -> bytes:
    return head + _filler(max(0, size - len(head)), salt)


def esp8266_image(size: int = 300_000, salt: str = "esp8266") -> bytes:
    """An Arduino-ESP8266 sketch .bin: 0xE9, no extended header, IRAM segment at byte 8."""
    header = struct.pack("<BBBBI", 0xE9, 3, 0x02, 0x40, 0x4010F498)  # magic, segs, DIO, 4MB/40M
    segment = struct.pack("<II", 0x40100000, 0x7A0C)  # load address (IRAM), length
    return _pad(header + segment, size, salt)


def app_description(
    version: str = "2.4.1",
    project: str = "greenhouse",
    time: str = "10:42:07",
    date: str = "Mar  3 2025",
    idf: str = "v5.1.4",
) -> bytes:
    """An `esp_app_desc_t` (256 bytes) as ESP-IDF and Arduino-ESP32 embed it."""

    def text(value: str, width: int) -> bytes:
        return value.encode().ljust(width, b"\x00")[:width]

    return (
        struct.pack("<III I", 0xABCD5432, 0, 0, 0)
        + text(version, 32)
        + text(project, 32)
        + text(time, 16)
        + text(date, 16)
        + text(idf, 32)
        + hashlib.sha256(project.encode()).digest()
        + bytes(256 - 176)
    )


def esp32_image(
    chip: str = "ESP32",
    size: int = 900_000,
    salt: str = "esp32",
    app: bytes | None = None,
) -> bytes:
    """An ESP32-family app image: header, extended header (chip id), a DROM segment whose
    data starts with the app description (when given)."""
    entry = {"ESP32": 0x40081234}.get(chip, 0x40380C04)
    header = struct.pack("<BBBBI", 0xE9, 5, 0x02, 0x20, entry)
    extended = struct.pack(
        "<B3sHBHH4sB",
        0xEE,  # wp pin: disabled
        b"\x00\x00\x00",  # SPI pin drive
        CHIP_IDS[chip],
        0,  # min chip rev (deprecated)
        0,  # min chip rev full
        0xFFFF,  # max chip rev full
        b"\x00" * 4,  # reserved
        1,  # hash appended
    )
    body = app if app is not None else _filler(256, salt + "-drom")
    segment = struct.pack("<II", 0x3F400020, 0x1C000)  # DROM load address, length
    return _pad(header + extended + segment + body, size, salt)


def gzip_image(size: int = 300_000, salt: str = "gzip") -> bytes:
    """A gzip-compressed ESP8266 image, as the Arduino core's OTA accepts it."""
    return gzip.compress(esp8266_image(size, salt), mtime=0)


def zip_file(salt: str = "zip") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("firmware.bin", esp8266_image(20_000, salt))
    return buffer.getvalue()


def elf_file(salt: str = "elf") -> bytes:
    return _pad(b"\x7fELF\x01\x01\x01\x00" + bytes(8) + struct.pack("<HH", 2, 94), 50_000, salt)


def text_file() -> bytes:
    return b"# build notes\nThis is not firmware.\n"


def sized(size: int, salt: str = "sized") -> bytes:
    """An ESP32 image of exactly `size` bytes."""
    return esp32_image(size=size, salt=salt)
