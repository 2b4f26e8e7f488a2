"""What a firmware file is, read from its first bytes: pure functions, no I/O.

In the core because two apps check files with them: the firmware panel (firmware/) and the
fleet's firmware library (fleet/library.py), which checks a build once, without a device.

The checks run before an upload (in the browser, which posts the file's first bytes to the
check view, and again on the server when the whole file arrives). They never refuse a file
the upstream would take: they warn, and the user may confirm and go on. Only an empty file
is an error, since the upstream refuses it anyway.

Formats (Espressif's esptool documents them):

- An ESP application image starts with the byte 0xE9; byte 1 is the segment count. ESP8266
  images follow with the first segment's header (load address, length) at byte 8. ESP32-family
  images have a 16-byte extended header at bytes 8–23 whose chip id is bytes 12–13 (little
  endian); their first segment header is at byte 24.
- ESP8266 "v2" images (NONOS SDK OTA apps) start with 0xEA.
- A gzip file (1f 8b) is a valid ESP8266 OTA file: the Arduino core's updater inflates it.
- ESP-IDF and Arduino-ESP32 apps carry an `esp_app_desc_t` (magic 0xABCD5432) at the start
  of the first segment's data, i.e. at byte 32.
"""

from __future__ import annotations

import contextlib
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from portal import display

# How many bytes of a file the checks need (headers, app description, a gzip's first block).
HEAD_BYTES = 4096

ESP_MAGIC = 0xE9
ESP8266_V2_MAGIC = 0xEA
APP_DESC_MAGIC = 0xABCD5432
APP_DESC_OFFSET = 32

ESP8266 = "ESP8266"
ESP32 = "ESP32"

# Chip ids of the ESP32 family in the extended header (esptool's IMAGE_CHIP_ID).
CHIP_IDS: dict[int, str] = {
    0: "ESP32",
    2: "ESP32-S2",
    5: "ESP32-C3",
    9: "ESP32-S3",
    12: "ESP32-C2",
    13: "ESP32-C6",
    16: "ESP32-H2",
    18: "ESP32-P4",
    20: "ESP32-C61",
    23: "ESP32-C5",
}

# Other files people pick by mistake, by their first bytes: (prefix, what it looks like).
_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\x7fELF", "an ELF file (the build's .elf; upload the .bin instead)"),
    (b"UF2\n", "a UF2 file (for drag-and-drop flashing, not OTA)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"BZh", "a bzip2 archive"),
    (b"Rar!", "a RAR archive"),
)


@dataclass(frozen=True)
class AppDescription:
    """The `esp_app_desc_t` an ESP-IDF or Arduino-ESP32 build embeds in its app image."""

    version: str
    project_name: str
    build_time: str
    build_date: str
    idf_version: str
    secure_version: int


@dataclass(frozen=True)
class ImageCheck:
    """What the checks found. `warnings` may be confirmed away; `error` may not."""

    kind: str  # "esp8266", "esp32", "gzip", "other", "empty"
    summary: str  # one line: "ESP32-C3 application image"
    chip: str | None = None  # "ESP8266", "ESP32-C3", ... when the file says
    app: AppDescription | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.warnings and self.error is None

    @property
    def suggested_version(self) -> str:
        return self.app.version if self.app else ""


# --- the device side ----------------------------------------------------------------------

_ESP32_VARIANT = re.compile(r"esp32[-_ ]?(s2|s3|c2|c3|c5|c6|c61|h2|p4)(?![0-9a-z])", re.IGNORECASE)


def device_chip(device: dict[str, Any] | None) -> str | None:
    """The chip a device runs on, from its platform and board (None when it can't be told)."""
    if not isinstance(device, dict):
        return None
    platform = device.get("platform") if isinstance(device.get("platform"), dict) else {}
    board = device.get("board") if isinstance(device.get("board"), dict) else {}
    words = " ".join(
        str(v)
        for v in (platform.get("key"), platform.get("name"), board.get("key"), board.get("name"))
        if isinstance(v, str)
    )
    if "8266" in words:
        return ESP8266
    variant = _ESP32_VARIANT.search(words)
    if variant:
        return f"ESP32-{variant.group(1).upper()}"
    if "esp32" in words.lower():
        return ESP32
    return None


def device_label(device: dict[str, Any] | None) -> str:
    """ "an ESP8266 (Wemos D1 mini)": how the warnings name the device."""
    chip = device_chip(device)
    board = (device or {}).get("board")
    # Through the one display rule: a name the upstream sent as an object is shown by its name.
    board_name = display.text(board.get("name")) if isinstance(board, dict) else None
    what = f"{_article(chip)} {chip}" if chip else "a device of unknown chip"
    return what + (f" ({board_name})" if board_name else "")


# --- the file side ------------------------------------------------------------------------


def _u32(head: bytes, offset: int) -> int | None:
    if len(head) < offset + 4:
        return None
    return struct.unpack_from("<I", head, offset)[0]


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()


def _esp8266_address(address: int | None) -> bool:
    """A plausible ESP8266 load address: DRAM 0x3FFE8000.., IRAM 0x40100000.., flash 0x402..."""
    return address is not None and 0x3FFE0000 <= address < 0x40300000


def app_description(head: bytes, offset: int = APP_DESC_OFFSET) -> AppDescription | None:
    """The app description at `offset`, or None when its magic isn't there."""
    if _u32(head, offset) != APP_DESC_MAGIC or len(head) < offset + 144:
        return None
    block = head[offset : offset + 144]
    return AppDescription(
        secure_version=struct.unpack_from("<I", block, 4)[0],
        version=_text(block[16:48]),
        project_name=_text(block[48:80]),
        build_time=_text(block[80:96]),
        build_date=_text(block[96:112]),
        idf_version=_text(block[112:144]),
    )


def _looks_like_text(head: bytes) -> str | None:
    sample = head[:1024]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ch < " " and ch not in "\t\r\n\f" for ch in text):
        return None
    if text.lstrip().startswith(":") and re.fullmatch(r"(:[0-9A-Fa-f]+\s*)+:?[0-9A-Fa-f]*", text):
        return "an Intel HEX text file"
    if text.lstrip().startswith(("<!doctype", "<!DOCTYPE", "<html", "<HTML")):
        return "an HTML page"
    return "a text file"


def _what_it_looks_like(head: bytes) -> str:
    for prefix, what in _MAGICS:
        if head.startswith(prefix):
            return what
    if head[: 257 + 5][257:] == b"ustar":
        return "a tar archive"
    if head[:16] == b"\xff" * min(16, len(head)) and len(head) >= 16:
        return "a full flash dump or merged image (it starts with erased flash, 0xFF)"
    return _looks_like_text(head) or "an unrecognised binary file"


def _esp32(head: bytes) -> tuple[str | None, list[str]]:
    """Chip name from the extended header, and warnings about the header itself."""
    warnings: list[str] = []
    if len(head) < 24:
        return None, ["The file is too short to hold an ESP32 image header."]
    chip_id = struct.unpack_from("<H", head, 12)[0]
    chip = CHIP_IDS.get(chip_id)
    if chip is None:
        warnings.append(f"The image names an unknown chip (id {chip_id}).")
    return chip, warnings


def _inspect_esp(head: bytes) -> ImageCheck:
    segments = head[1] if len(head) > 1 else 0
    warnings: list[str] = []
    if not 1 <= segments <= 16:
        warnings.append(f"The image header says {segments} segments, which looks corrupt.")
    if _esp8266_address(_u32(head, 8)):
        return ImageCheck(
            "esp8266", "ESP8266 application image", chip=ESP8266, warnings=tuple(warnings)
        )
    chip, header_warnings = _esp32(head)
    app = app_description(head)
    summary = f"{chip or 'ESP32-family'} application image"
    return ImageCheck(
        "esp32", summary, chip=chip, app=app, warnings=tuple(warnings + header_warnings)
    )


def _inspect_gzip(head: bytes) -> ImageCheck:
    """A gzip file; what's inside is read from the first block, when it inflates."""
    inner = b""
    with contextlib.suppress(zlib.error):
        inner = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, HEAD_BYTES)
    if inner[:1] == bytes([ESP_MAGIC]) and _esp8266_address(_u32(inner, 8)):
        return ImageCheck("gzip", "gzip-compressed ESP8266 application image", chip=ESP8266)
    if inner[:1] == bytes([ESP_MAGIC]):
        chip, _ = _esp32(inner)
        return ImageCheck(
            "gzip",
            f"gzip-compressed {chip or 'ESP32-family'} application image",
            chip=chip or ESP32,
            details={"compressed": True},
        )
    # The first block may be too short to reach the header; the file is still a valid
    # ESP8266 OTA file as far as the header tells.
    return ImageCheck("gzip", "gzip-compressed file (ESP8266 OTA format)", chip=ESP8266)


def inspect(head: bytes, device: dict[str, Any] | None = None) -> ImageCheck:
    """Check a file's first bytes (HEAD_BYTES of them are enough) against a device.

    `device` is the upstream's device detail (its platform and board name the chip); without
    it, or when its chip can't be told, the chip comparison is skipped.
    """
    if not head:
        return ImageCheck("empty", "empty file", error="The file is empty.")
    if head[0] == ESP_MAGIC:
        found = _inspect_esp(head)
    elif head[0] == ESP8266_V2_MAGIC and len(head) > 1 and head[1] == 0x04:
        found = ImageCheck("esp8266", "ESP8266 application image (v2 format)", chip=ESP8266)
    elif head.startswith(b"\x1f\x8b"):
        found = _inspect_gzip(head)
    else:
        looks = _what_it_looks_like(head)
        return ImageCheck(
            "other",
            looks,
            warnings=(f"This is not an ESP firmware image: it looks like {looks}.",),
        )
    return _compare(found, device)


def _compare(found: ImageCheck, device: dict[str, Any] | None) -> ImageCheck:
    wanted = device_chip(device)
    warnings = list(found.warnings)
    if wanted and found.chip and found.chip != wanted:
        warnings.append(
            f"This image is built for {_article(found.chip)} {found.chip}, "
            f"but this device is {device_label(device)}."
        )
    elif wanted and found.kind == "gzip" and wanted != ESP8266:
        warnings.append(
            "A gzip-compressed image is an ESP8266 OTA format; "
            f"this device is {device_label(device)}, which expects a raw .bin."
        )
    if warnings == list(found.warnings):
        return found
    return ImageCheck(
        found.kind,
        found.summary,
        chip=found.chip,
        app=found.app,
        warnings=tuple(warnings),
        error=found.error,
        details=found.details,
    )


def _article(word: str) -> str:
    return "an" if word[:1] in "AEIOU" else "a"
