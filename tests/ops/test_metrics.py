"""``/metrics``: Prometheus text format 0.0.4, every number read from the database at scrape time."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest

from qbsync.config import Config
from qbsync.service import metrics
from qbsync.service.app import create_app
from qbsync.service.background import Dispatcher
from qbsync.service.runtime import Runtime
from qbsync.storage.db import create_database
from qbsync.storage.models import Exchange, JobAttempt, QbwcSession, QueueJob, User, WebhookDelivery, utcnow

# One line of the text format: a comment (HELP/TYPE) or a sample "name{labels} value".
_HELP = re.compile(r"^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$")
_TYPE = re.compile(r"^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$")
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_SAMPLE = re.compile(
    rf"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{{(?P<labels>{_LABEL}(?:,{_LABEL})*)?\}})? "
    r"(?P<value>[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|Inf|NaN))$"
)


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """Samples by (name, labels); fails on any line that is not valid exposition format."""
    assert text.endswith("\n")
    samples: dict[tuple[str, frozenset], float] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# HELP"):
            assert _HELP.match(line), line
            continue
        if line.startswith("# TYPE"):
            assert _TYPE.match(line), line
            typed.add(line.split()[2])
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a valid sample line: {line!r}"
        name = match["name"]
        assert any(name == t or name.startswith(t + "_") for t in typed), f"{name} has no TYPE line"
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', match["labels"] or ""))
        key = (name, labels)
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(match["value"].replace("Inf", "inf"))
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def metrics_app(app):
    metrics.register(app)  # idempotent: the app factory may already have done it
    return app


def _fill(runtime, shop_id: int, other_id: int) -> None:
    now = utcnow()
    with runtime.db.transaction() as s:
        for n, state in enumerate(["processed"] * 3 + ["failed", "stored"]):
            s.add(WebhookDelivery(connection_id=shop_id, platform="woocommerce", dedupe_key=f"d{n}",
                                  headers={}, body=b"{}", state=state, received_at=now))
        s.add(WebhookDelivery(connection_id=other_id, platform="woocommerce", dedupe_key="x", headers={},
                              body=b"{}", state="invalid", received_at=now))
        for state in ["pending", "pending", "done", "parked"]:
            s.add(QueueJob(connection_id=shop_id, kind="order", state=state, payload={},
                           created_at=now - timedelta(minutes=10 if state == "pending" else 1)))
        s.add(QueueJob(connection_id=other_id, kind="customer", state="in_flight", payload={}))
        sessions = []
        for seconds, state in [(0.5, "closed"), (12, "closed"), (400, "stale")]:
            started = now - timedelta(hours=1)
            sessions.append(QbwcSession(connection_id=shop_id, ticket=f"t{seconds}", state=state,
                                        started_at=started, last_seen_at=started,
                                        expires_at=started + timedelta(hours=1),
                                        closed_at=started + timedelta(seconds=seconds)))
        live = QbwcSession(connection_id=other_id, ticket="live", state="active", started_at=now,
                           last_seen_at=now, expires_at=now + timedelta(hours=1))
        s.add_all([*sessions, live])
        s.flush()
        exchanges = [Exchange(session_id=sessions[1].id, connection_id=shop_id, seq=i + 1, request_xml="<x/>",
                              job_count=count, service_ms=ms)
                     for i, (count, ms) in enumerate([(10, 4.5), (5, 2.25)])]
        s.add_all(exchanges)
        s.flush()
        for n, code in enumerate([0, 0, 0, 3100, None]):
            s.add(JobAttempt(exchange_id=exchanges[0].id, connection_id=shop_id, request_id=f"{n}.1",
                             request_type="CustomerAddRq", status_code=code))


def test_metrics_are_the_database_counts_in_prometheus_text_format(metrics_app, runtime, make_connection):
    shop, other = make_connection("shop"), make_connection("other")
    _fill(runtime, shop.id, other.id)

    response = metrics_app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = parse(response.get_data(as_text=True))

    assert value(samples, "qbsync_connections") == 2
    assert value(samples, "qbsync_webhook_deliveries", connection="shop", state="processed") == 3
    assert value(samples, "qbsync_webhook_deliveries", connection="shop", state="failed") == 1
    assert value(samples, "qbsync_webhook_deliveries", connection="other", state="invalid") == 1
    assert value(samples, "qbsync_queue_jobs", connection="shop", state="pending") == 2
    assert value(samples, "qbsync_queue_jobs", connection="other", state="in_flight") == 1
    assert 590 <= value(samples, "qbsync_queue_oldest_pending_age_seconds", connection="shop") <= 900
    assert value(samples, "qbsync_qbwc_sessions", connection="other", state="active") == 1
    assert value(samples, "qbsync_qbwc_sessions", connection="shop", state="closed") == 2

    histogram = "qbsync_qbwc_session_duration_seconds"
    assert value(samples, histogram + "_bucket", connection="shop", le="1") == 1
    assert value(samples, histogram + "_bucket", connection="shop", le="15") == 2
    assert value(samples, histogram + "_bucket", connection="shop", le="300") == 2
    assert value(samples, histogram + "_bucket", connection="shop", le="600") == 3
    assert value(samples, histogram + "_bucket", connection="shop", le="+Inf") == 3
    assert value(samples, histogram + "_count", connection="shop") == 3
    assert value(samples, histogram + "_sum", connection="shop") == pytest.approx(412.5, abs=0.01)
    # The live session has not ended: it is in no duration.
    assert (histogram + "_count", frozenset({("connection", "other")})) not in samples

    assert value(samples, "qbsync_qbwc_exchanges_total", connection="shop") == 2
    assert value(samples, "qbsync_qbwc_exchange_requests_total", connection="shop") == 15
    assert value(samples, "qbsync_qbwc_exchange_service_milliseconds_total", connection="shop") == 6.75
    assert value(samples, "qbsync_quickbooks_requests_total", connection="shop", status_code="0") == 3
    assert value(samples, "qbsync_quickbooks_requests_total", connection="shop", status_code="3100") == 1
    assert value(samples, "qbsync_quickbooks_requests_total", connection="shop", status_code="none") == 1


def test_every_process_on_the_same_database_reports_the_same_numbers(metrics_app, runtime, make_connection,
                                                                     database_url):
    shop, other = make_connection("shop"), make_connection("other")
    _fill(runtime, shop.id, other.id)
    # A second "web process": its own engine and app on the same database.
    second = Runtime(config=runtime.config, db=create_database(database_url),
                     dispatcher=Dispatcher(runtime.config))
    try:
        second_app = create_app(runtime=second)
        metrics.register(second_app)

        def scrape(app) -> dict:
            samples = parse(app.test_client().get("/metrics").get_data(as_text=True))
            # Timings differ by nature; everything read from the tables must not.
            return {k: v for k, v in samples.items() if k[0] not in (
                "qbsync_metrics_scrape_duration_seconds", "qbsync_queue_oldest_pending_age_seconds")}

        first = scrape(metrics_app)
        assert first == scrape(second_app)
        assert len(first) > 20
    finally:
        second.db.dispose()


def test_metrics_need_no_sign_in_even_once_admins_exist(metrics_app, runtime):
    with runtime.db.transaction() as s:
        s.add(User(username="admin", password_hash="x"))
    response = metrics_app.test_client().get("/metrics")
    assert response.status_code == 200
    assert value(parse(response.get_data(as_text=True)), "qbsync_connections") == 0


def test_database_down_is_a_failed_scrape_not_a_crash(config: Config, tmp_path):
    broken = dataclasses.replace(config, database_url="postgresql+psycopg://qbsync@127.0.0.1:1/none")
    db = create_database(broken.database_url, connect_args={"connect_timeout": 1})
    runtime = Runtime(config=broken, db=db, dispatcher=Dispatcher(broken))
    app = create_app(runtime=runtime)
    metrics.register(app)
    response = app.test_client().get("/metrics")
    assert response.status_code == 503
    assert response.get_data(as_text=True).startswith("# database unavailable: OperationalError")


def test_label_values_are_escaped():
    family = metrics.Family("qbsync_test", "gauge", 'help with \\ and\nnewline')
    family.add(1.5, connection='we"ird\\name\n')
    text = metrics.render([family])
    assert 'qbsync_test{connection="we\\"ird\\\\name\\n"} 1.5' in text
    assert "# HELP qbsync_test help with \\\\ and\\nnewline" in text
    assert parse(text)


def _shop_with_a_job(runtime, make_connection) -> None:
    conn = make_connection("secret-client-shop")
    with runtime.db.transaction() as session:
        session.add(QueueJob(connection_id=conn.id, kind="order", state="pending", payload={}))


def test_metrics_answer_only_this_machine_when_no_token_is_set(metrics_app, runtime, make_connection):
    _shop_with_a_job(runtime, make_connection)
    browser = metrics_app.test_client()
    local = browser.get("/metrics")  # Prometheus on this machine (127.0.0.1)
    assert local.status_code == 200 and 'connection="secret-client-shop"' in local.get_data(as_text=True)
    for address in ("203.0.113.5", "10.0.0.7", "2001:db8::1"):
        refused = browser.get("/metrics", environ_base={"REMOTE_ADDR": address})
        assert refused.status_code == 403, address
        body = refused.get_data(as_text=True)
        assert "secret-client-shop" not in body and "QBSYNC_METRICS_TOKEN" in body
    assert browser.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_with_a_metrics_token_set_the_scrape_must_send_it(runtime, make_connection):
    _shop_with_a_job(runtime, make_connection)
    config = dataclasses.replace(runtime.config, metrics_token="prom-token-1234567890")
    app = create_app(runtime=Runtime(config=config, db=runtime.db, dispatcher=Dispatcher(config)))
    browser = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic prom-token-1234567890"}):
        refused = browser.get("/metrics", headers=headers)  # from loopback too: the token is the rule
        assert refused.status_code == 401, headers
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert "secret-client-shop" not in refused.get_data(as_text=True)
    allowed = browser.get("/metrics", headers={"Authorization": "Bearer prom-token-1234567890"},
                          environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert allowed.status_code == 200 and 'connection="secret-client-shop"' in allowed.get_data(as_text=True)
