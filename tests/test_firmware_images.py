"""Image checks on real-shaped files (tests/firmware_samples.py builds them as esptool does)."""

from __future__ import annotations

import pytest

from portal import firmware_images as images
from tests import firmware_samples as samples

ESP8266_DEVICE = {
    "platform": {"id": 2, "name": "ESP8266", "key": "espressif8266"},
    "board": {"id": 5, "name": "Wemos D1 mini", "key": "d1_mini"},
}
ESP32_DEVICE = {
    "platform": {"id": 1, "name": "ESP32", "key": "espressif32"},
    "board": {"id": 1, "name": "ESP32 DevKit", "key": "esp32dev"},
}
C3_DEVICE = {
    "platform": {"id": 1, "name": "ESP32", "key": "espressif32"},
    "board": {"id": 2, "name": "ESP32-C3 DevKitM-1", "key": "esp32-c3-devkitm-1"},
}


def check(data: bytes, device=None) -> images.ImageCheck:
    return images.inspect(data[: images.HEAD_BYTES], device)


def test_it_recognises_an_esp8266_image_without_an_extended_header():
    found = check(samples.esp8266_image(), ESP8266_DEVICE)
    assert found.kind == "esp8266" and found.chip == "ESP8266"
    assert found.clean and found.app is None


def test_it_reads_the_app_description_of_an_esp32_image():
    app = samples.app_description(version="2.4.1", project="greenhouse", idf="v5.1.4")
    found = check(samples.esp32_image("ESP32", app=app), ESP32_DEVICE)
    assert found.clean
    assert found.summary == "ESP32 application image"
    assert found.app.version == "2.4.1" and found.suggested_version == "2.4.1"
    assert found.app.project_name == "greenhouse"
    assert found.app.idf_version == "v5.1.4"
    assert found.app.build_date == "Mar  3 2025" and found.app.build_time == "10:42:07"


def test_it_warns_when_an_esp32_c3_image_goes_to_an_esp8266_device():
    found = check(samples.esp32_image("ESP32-C3"), ESP8266_DEVICE)
    assert found.chip == "ESP32-C3"
    assert found.warnings == (
        "This image is built for an ESP32-C3, but this device is an ESP8266 (Wemos D1 mini).",
    )


@pytest.mark.parametrize("chip", ["ESP32", "ESP32-S2", "ESP32-C3", "ESP32-S3", "ESP32-C6"])
def test_it_reads_the_chip_id_of_the_extended_header(chip):
    assert check(samples.esp32_image(chip)).chip == chip


def test_it_tells_an_esp32_image_from_an_esp32_c3_device():
    found = check(samples.esp32_image("ESP32"), C3_DEVICE)
    assert "built for an ESP32, but this device is an ESP32-C3" in found.warnings[0]


def test_it_accepts_a_gzip_image_for_an_esp8266_device():
    found = check(samples.gzip_image(), ESP8266_DEVICE)
    assert found.kind == "gzip" and found.clean
    assert found.summary == "gzip-compressed ESP8266 application image"


def test_it_warns_about_a_gzip_image_for_an_esp32_device():
    assert check(samples.gzip_image(), ESP32_DEVICE).warnings


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (samples.zip_file(), "a zip archive"),
        (samples.elf_file(), "an ELF file"),
        (samples.text_file(), "a text file"),
        (b"\xff" * 8192, "a full flash dump"),
        (b"\x00\x01\x02\x03" * 100, "an unrecognised binary file"),
    ],
)
def test_it_names_what_a_non_esp_file_looks_like(data, looks_like):
    found = check(data, ESP8266_DEVICE)
    assert found.kind == "other" and found.error is None
    assert found.warnings[0].startswith("This is not an ESP firmware image: it looks like ")
    assert looks_like in found.warnings[0]


def test_it_refuses_an_empty_file():
    found = check(b"", ESP8266_DEVICE)
    assert found.error == "The file is empty." and not found.clean


def test_it_skips_the_chip_comparison_when_the_device_is_unknown():
    assert check(samples.esp32_image("ESP32-C3"), None).clean


@pytest.mark.parametrize(
    ("device", "chip"),
    [(ESP8266_DEVICE, "ESP8266"), (ESP32_DEVICE, "ESP32"), (C3_DEVICE, "ESP32-C3"), ({}, None)],
)
def test_it_tells_a_device_chip_from_its_platform_and_board(device, chip):
    assert images.device_chip(device) == chip


def test_a_board_name_sent_as_an_object_is_named_readably_in_the_warnings():
    device = {"platform": {"key": "espressif8266"}, "board": {"name": {"id": 6, "name": "ESP-07S"}}}
    label = images.device_label(device)
    assert label.endswith("(ESP-07S)") and "{" not in label
