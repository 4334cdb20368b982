"""The simulated QuickBooks records page, served by ``qbsync demo`` (which holds the simulated company).

QuickBooks' own records are not something qbsync can show for a real company (they live on the
QuickBooks PC); for the simulated company of a demo run they are right here, so this page lists them:
the sales, credit memos, customers and items, as QuickBooks itself would report them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, current_app, render_template

from qbsync.simulator.company import QuickBooksCompany

blueprint = Blueprint("simulated", __name__)

_EXTENSION = "qbsync.simulated_company"
SIMULATED_PATH = "/simulated-quickbooks"
SALES_KINDS = ("SalesReceipt", "Invoice", "SalesOrder", "CreditMemo")
KIND_WORDS = {"SalesReceipt": "Sales receipt", "Invoice": "Invoice", "SalesOrder": "Sales order",
              "CreditMemo": "Credit memo"}


def sale_total(sale: dict[str, Any]) -> str:
    """What the customer pays for a sale: QuickBooks reports it as subtotal plus sales tax."""
    return str(Decimal(sale.get("Subtotal") or "0") + Decimal(sale.get("SalesTaxTotal") or "0"))


def register(app: Flask, company: QuickBooksCompany) -> None:
    """Serve ``company``'s records at /simulated-quickbooks and add the page to the navigation."""
    app.extensions[_EXTENSION] = company
    app.register_blueprint(blueprint)
    nav = list(app.jinja_env.globals.get("nav") or [])
    app.jinja_env.globals["nav"] = [*nav, ("simulated.index", "Simulated QuickBooks")]


@blueprint.get(SIMULATED_PATH)
def index() -> Any:
    """What the simulated QuickBooks company holds."""
    company: QuickBooksCompany = current_app.extensions[_EXTENSION]
    sales = [{**t, "total": sale_total(t)} for t in company.transactions() if t["kind"] in SALES_KINDS]
    items = sorted(company.items(), key=lambda i: i.get("FullName", ""))
    return render_template("simulated/index.html", company=company, counts=company.counts(), sales=sales,
                           customers=company.customers(), items=items, kind_words=KIND_WORDS,
                           path=company.path)
