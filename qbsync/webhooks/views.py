"""The webhook endpoints: ``POST /webhooks/<woocommerce|shopify>/<connection>``.

Verify, store, hand off, answer: nothing slow happens before the answer (Shopify waits 5 s at most).
Every refusal says why in a JSON ``{"error": ...}`` body.
"""

from __future__ import annotations

import logging
from typing import Any, BinaryIO

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from qbsync.connections import PLATFORMS
from qbsync.service.runtime import Runtime
from qbsync.storage.encryption import SecretKeyError
from qbsync.webhooks import deliveries, processing
from qbsync.webhooks.signatures import SIGNATURE_HEADERS

log = logging.getLogger(__name__)

blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")

_READ_CHUNK = 64 * 1024


@blueprint.post("/<platform>/<connection>")
def receive(platform: str, connection: str) -> Any:
    """Receive one storefront webhook delivery for ``connection``."""
    runtime: Runtime = current_app.extensions["qbsync"]
    if platform not in PLATFORMS:
        return _refuse(404, f"unknown platform {platform!r}: webhook URLs are "
                            "/webhooks/woocommerce/<connection> or /webhooks/shopify/<connection>")
    limit = runtime.config.max_webhook_bytes
    if request.content_length is not None and request.content_length > limit:
        return _too_large(limit)
    # Cap the read itself too: a chunked body announces no length.
    body = _read_at_most(request.stream, limit + 1)
    if len(body) > limit:
        return _too_large(limit)

    try:
        # Find the connection, check the signature, store the delivery: each a single statement.
        headers, signature = request.headers.items(), request.headers.get(SIGNATURE_HEADERS[platform])
        outcome = runtime.db.run_statements(
            lambda db: deliveries.receive(db, platform, connection, headers, signature, body))
    except SQLAlchemyError:
        return _database_down()
    except SecretKeyError as exc:
        # A server setup problem, not the sender's: 503 so the storefront retries once it is fixed.
        log.error("webhook for %r refused: %s", connection, exc)
        return _refuse(503, f"the webhook secret of {connection!r} cannot be read: {exc}")
    if isinstance(outcome, deliveries.Refused):
        return _refuse(outcome.status, outcome.reason)
    if isinstance(outcome, deliveries.Pinged):
        return jsonify(status="ok", message="ping received"), 200
    if outcome.state == "invalid":
        return jsonify(error=outcome.error, delivery=outcome.delivery_id), 400
    if outcome.state == "stored":
        processing.announce(runtime)
    return jsonify(status=outcome.state, delivery=outcome.delivery_id), 200


def _read_at_most(stream: BinaryIO, limit: int) -> bytes:
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(_READ_CHUNK, remaining))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _refuse(status: int, reason: str) -> Any:
    return jsonify(error=reason), status


def _too_large(limit: int) -> Any:
    return _refuse(413, f"webhook body is larger than the {limit}-byte limit (QBSYNC_MAX_WEBHOOK_BYTES)")


def _database_down() -> Any:
    # 503 so the storefront retries later: never 200 for a delivery that is not stored.
    log.exception("database unavailable while receiving a webhook")
    response = jsonify(error="database unavailable while storing the delivery; retry later")
    response.headers["Retry-After"] = "30"
    return response, 503
