"""The demo's Simulated QuickBooks page: what the simulated company holds, for signed-in people only."""

from __future__ import annotations

import pytest

from qbsync.qbxml.render import build_message, render_request
from qbsync.service.pages import simulated
from qbsync.simulator.company import QuickBooksCompany
from tests.pages.conftest import text_of


@pytest.fixture
def company(app):
    """A simulated company served by the page, holding a customer and an invoice made through qbXML."""
    books = QuickBooksCompany()
    document = build_message([
        render_request("CustomerAdd", {"Name": "Lee, Ann", "Email": "ann@example.com"}, request_id="1"),
        render_request("InvoiceAdd", {"CustomerRef": {"FullName": "Lee, Ann"}, "RefNumber": "5001",
                                      "InvoiceLineAdd": [{"Desc": "Red mug", "Amount": "16.00"}]},
                       request_id="2"),
    ])
    books.process(document)
    simulated.register(app, books)
    return books


def test_the_page_lists_the_simulated_records(signed_in, company):
    page = signed_in.get(simulated.SIMULATED_PATH)

    assert page.status_code == 200
    text = text_of(page)
    assert "Simulated QuickBooks: Simulated Store Company" in text
    assert "Invoice 5001" in text and "Lee, Ann 16.00" in text
    assert "ann@example.com 16.00" in text  # the customer owes the invoice
    assert "Simulated QuickBooks" in page.get_data(as_text=True).split("</nav>")[0]  # in the menu


def test_the_page_needs_sign_in(client, admin, company):
    page = client.get(simulated.SIMULATED_PATH)

    assert page.status_code == 302 and "/login" in page.headers["Location"]
