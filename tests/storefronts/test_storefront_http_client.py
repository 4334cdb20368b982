"""The shared HTTP layer: Retry-After, backoff, store addresses, answers that are not what they should be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from qbsync.storefronts.http import (
    RetryPolicy,
    StoreApi,
    StorefrontError,
    StorefrontSetupError,
    parse_retry_after,
    store_address,
)


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("2.0") == 2.0
    assert parse_retry_after(" 30 ") == 30.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=5), usegmt=True), now=now) == 0.0
    assert parse_retry_after("-3") == 0.0
    assert (
        parse_retry_after("soon") is None
        and parse_retry_after(None) is None
        and parse_retry_after("nan") is None
    )


def test_backoff_doubles_up_to_the_cap_within_the_jitter() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.2)

    assert [policy.backoff(n, rand=lambda: 0.5) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.backoff(2, rand=lambda: 0.0) == pytest.approx(1.6)
    assert policy.backoff(2, rand=lambda: 1.0) == pytest.approx(2.4)
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_store_addresses_are_normalised_and_checked() -> None:
    refused = "no plain http to {url}"
    assert (
        store_address("Shop.Example.com/", allow_http=False, platform="X", http_refused=refused)
        == "https://shop.example.com"
    )
    assert (
        store_address("http://127.0.0.1:8080/wp/", allow_http=True, platform="X", http_refused=refused)
        == "http://127.0.0.1:8080/wp"
    )
    with pytest.raises(StorefrontSetupError, match="no plain http to http://shop.example.com"):
        store_address("http://shop.example.com", allow_http=False, platform="X", http_refused=refused)
    with pytest.raises(StorefrontSetupError, match="user name or password"):
        store_address(
            "https://admin:pw@shop.example.com", allow_http=False, platform="X", http_refused=refused
        )
    with pytest.raises(StorefrontSetupError):
        store_address("ftp://shop.example.com", allow_http=False, platform="X", http_refused=refused)
    with pytest.raises(StorefrontSetupError):
        store_address("  ", allow_http=False, platform="X", http_refused=refused)


def _api(handler) -> StoreApi:
    return StoreApi(
        "https://shop.example.com/wp-json/wc/v3/",
        platform="WooCommerce",
        auth_help=lambda status, message: f"refused {status}",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=2, base_delay=0),
        sleep=lambda seconds: None,
    )


def test_a_maintenance_page_instead_of_json_is_a_clear_error() -> None:
    api = _api(lambda request: httpx.Response(200, html="<html>Briefly unavailable for maintenance</html>"))

    with pytest.raises(StorefrontError, match="not JSON"):
        api.get_json("orders")


def test_a_redirect_names_the_address_to_enter_instead() -> None:
    api = _api(
        lambda request: httpx.Response(301, headers={"Location": "https://www.shop.example.com/wp-json/"})
    )

    with pytest.raises(StorefrontSetupError, match="https://www.shop.example.com/wp-json/"):
        api.get_json("orders")


def test_other_refusals_carry_the_stores_own_words() -> None:
    body = {"code": "rest_invalid_param", "message": "Invalid parameter(s): status", "data": {"status": 400}}
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, json=body)

    with pytest.raises(StorefrontError, match="Invalid parameter") as caught:
        _api(handler).get_json("orders", {"status": "bogus"})

    assert caught.value.code == "rest_invalid_param" and caught.value.status == 400
    assert len(calls) == 1  # a 400 will not change on a retry
