"""Signature checks against the platforms' published algorithm and the reference test vectors."""

from __future__ import annotations

import json

import pytest

from qbsync.webhooks.signatures import candidate_secrets, sign, signature_matches


def _vector(storefront_dir, platform: str) -> tuple[dict, bytes]:
    vector = json.loads((storefront_dir / platform / "webhook_signature_vector.json").read_text())
    body = (storefront_dir / platform / vector["body_file"]).read_bytes()
    assert len(body) == vector["body_length_bytes"]  # the exact file bytes, nothing re-encoded
    return vector, body


@pytest.mark.parametrize("platform", ["woocommerce", "shopify"])
def test_reference_vectors_sign_and_verify(storefront_dir, platform):
    vector, body = _vector(storefront_dir, platform)
    (expected,) = vector["expected_header"].values()
    assert sign(vector["secret"], body) == expected
    assert signature_matches(body, expected, [vector["secret"]])


@pytest.mark.parametrize("platform", ["woocommerce", "shopify"])
def test_any_change_to_body_or_secret_fails(storefront_dir, platform):
    vector, body = _vector(storefront_dir, platform)
    (expected,) = vector["expected_header"].values()
    # Re-serializing the parsed JSON changes the bytes (escaping, spacing), so it must not verify.
    reserialized = json.dumps(json.loads(body)).encode()
    assert not signature_matches(reserialized, expected, [vector["secret"]])
    assert not signature_matches(body + b" ", expected, [vector["secret"]])
    assert not signature_matches(body, expected, [vector["secret"] + "x"])
    assert not signature_matches(body, "", [vector["secret"]])
    assert not signature_matches(body, None, [vector["secret"]])
    assert not signature_matches(body, "not base64 at all ☃", [vector["secret"]])


def test_previous_secret_accepted_during_rotation():
    body = b'{"id":1}'
    old_signature = sign("old-secret", body)
    secrets = candidate_secrets("shopify", ["new-secret", "old-secret"])
    assert secrets == ["new-secret", "old-secret"]
    assert signature_matches(body, old_signature, secrets)
    assert not signature_matches(body, old_signature, candidate_secrets("shopify", ["new-secret", None]))


def test_woocommerce_secret_with_html_entities_signs_decoded():
    # WooCommerce signs with wp_specialchars_decode(secret): a secret shown as "a&amp;b" signs with "a&b".
    body = b'{"id":1}'
    assert signature_matches(body, sign("a&b", body), candidate_secrets("woocommerce", ["a&amp;b"]))
    assert not signature_matches(body, sign("a&b", body), candidate_secrets("shopify", ["a&amp;b"]))
