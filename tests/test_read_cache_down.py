"""A cache server that is down makes pages slower, never broken."""

from __future__ import annotations

from django.test import override_settings
from django.urls import reverse


def _cache_at(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url.replace("http://", "redis://"),
        }
    }


def test_the_device_list_reads_the_upstream_directly_when_redis_is_down(
    as_viewer, emulator, unused_port_url, log_lines
):
    with override_settings(CACHES=_cache_at(unused_port_url), PORTAL_READ_CACHE_SECONDS=5):
        response = as_viewer.get(reverse("devices:list"))
        assert response.status_code == 200
        assert "Greenhouse Sensor" in response.content.decode()
    assert [e["path"] for e in emulator.request_log] == ["/v1/user/devices"]
    assert any("read cache unavailable" in line for line in log_lines)


def test_a_rename_works_when_redis_is_down(as_operator, emulator, unused_port_url):
    uid = emulator.device_uid("test-token-alpha-0001", "Kitchen Relay")
    with override_settings(CACHES=_cache_at(unused_port_url), PORTAL_READ_CACHE_SECONDS=5):
        response = as_operator.post(
            reverse("devices:rename", args=[uid]), {"name": "Kitchen Relay 2"}
        )
        assert response.status_code in (200, 302)
        detail = as_operator.get(reverse("devices:detail", args=[uid]))
        assert "Kitchen Relay 2" in detail.content.decode()
