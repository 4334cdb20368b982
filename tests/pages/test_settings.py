"""Sync settings: every setting shown with default and help; only overrides stored; bad values explained."""

from __future__ import annotations

from sqlalchemy import select

from qbsync.queue.settings import DEFINITIONS
from qbsync.service.pages.settings import shown
from qbsync.storage.models import Connection
from tests.pages.conftest import flashes, post, text_of


def _stored(runtime):
    with runtime.db.transaction() as session:
        return session.scalar(select(Connection)).settings


def _form(**changes):
    """The settings form as the page submits it (every field, at its current default)."""
    form = {s.name: shown(s.default) for s in DEFINITIONS}
    form.update(changes)
    return form


def test_every_setting_is_shown_grouped_with_its_default_and_help(signed_in, conn):
    response = signed_in.get("/settings/shop")
    page = text_of(response)
    for setting in DEFINITIONS:
        assert setting.help.split("(")[0].strip() in page, setting.name
        assert f'name="{setting.name}"' in response.get_data(as_text=True)
    for group in {s.group for s in DEFINITIONS}:
        assert f"<legend>{group}</legend>" in response.get_data(as_text=True)
    assert "Default: 200." in page  # batch_size


def test_saving_stores_only_what_differs_from_the_defaults(signed_in, conn, runtime):
    response = post(signed_in, "/settings/shop", _form(batch_size="50",
                                                       sync_order_statuses="completed, processing",
                                                       customer_name_add_id="no", tax_mode="quickbooks"))
    assert response.status_code == 302
    assert _stored(runtime) == {"batch_size": 50, "sync_order_statuses": ["completed", "processing"],
                                "customer_name_add_id": False, "tax_mode": "quickbooks"}
    assert flashes(signed_in)[-1][0] == "ok"
    page = signed_in.get("/settings/shop").get_data(as_text=True)
    assert 'name="batch_size" value="50"' in page
    # Setting a value back to its default removes the override.
    post(signed_in, "/settings/shop", _form(batch_size="200"))
    assert _stored(runtime) == {}


def test_bad_values_are_shown_next_to_their_fields_and_nothing_is_saved(signed_in, conn, runtime):
    response = post(signed_in, "/settings/shop", _form(batch_size="lots", retry_max_seconds="-5",
                                                       tax_mode="sometimes", exchange_budget_ms="1500"))
    assert response.status_code == 400
    page = text_of(response)
    assert "Nothing was saved: 3 settings need a different value" in page
    assert "batch_size must be a whole number, not 'lots'" in page
    assert "retry_max_seconds must not be negative" in page
    assert "tax_mode must be one of line, quickbooks, not 'sometimes'" in page
    body = response.get_data(as_text=True)
    assert 'name="batch_size" value="lots"' in body  # what was typed stays in the field
    assert 'name="exchange_budget_ms" value="1500"' in body
    assert _stored(runtime) == {}


def test_a_record_name_quickbooks_would_cut_is_refused(signed_in, conn, runtime):
    agency = "California Department of Tax and Fee Administration"  # 51 characters; a vendor keeps 41
    response = post(signed_in, "/settings/shop", _form(tax_agency=agency))
    assert response.status_code == 400
    assert (f"QuickBooks keeps 41 characters of a vendor's name and {agency!r} has 51: use a shorter name"
            in text_of(response))
    assert _stored(runtime) == {}


def test_settings_this_process_does_not_know_are_kept(signed_in, conn, runtime):
    with runtime.db.transaction() as session:
        session.scalar(select(Connection)).settings = {"future_setting": 7}
    post(signed_in, "/settings/shop", _form(batch_size="10"))
    assert _stored(runtime) == {"future_setting": 7, "batch_size": 10}
