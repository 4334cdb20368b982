"""What an order becomes in QuickBooks, decided apart from doing it (pure: no database, no session).

:func:`plan` takes the order, what qbsync knows of the QuickBooks company (:class:`Company`: the records
the order's customer and products are linked to, the lists read, the company's country, currency and tax
codes) and the sync settings, and answers with a :class:`Plan`: whether the order is synced and as which
transaction type, its header and lines with their references, or what it must wait for or why it cannot
be booked. The order handler (``orders.py``) reads the company from the database, asks for the plan and
turns it into a request; tests ask for plans directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qbsync.queue import company_facts, rules, tax_codes
from qbsync.queue.handlers.order_lines import Refs, header, line_key, money, sales_lines
from qbsync.storefronts.records import Order


@dataclass(frozen=True)
class Company:
    """What qbsync knows of the QuickBooks company an order goes to (read by the handler).

    ``customer`` is the CustomerRef of the order's customer (or the proxy customer), None while it is not
    linked; ``items`` the ItemRef of each linked product by line key; ``specials`` the ItemRef (or the
    FullName) of each special item role; ``lacks_payment_methods`` the lower-cased names of payment
    methods the pulled list proves QuickBooks lacks; ``country_tax`` a Canadian or UK company's tax
    codes and rates (None until read); ``quickbooks_rate`` the rate of the sales tax item QuickBooks
    computes tax with (tax_mode ``quickbooks``), None when unknown.
    """

    customer: dict[str, str] | None
    items: Mapping[str, dict[str, str]] = field(default_factory=dict)
    specials: Mapping[str, dict[str, str]] = field(default_factory=dict)
    facts: company_facts.CompanyFacts = field(default_factory=company_facts.CompanyFacts)
    lacks_payment_methods: frozenset[str] = frozenset()
    country_tax: tax_codes.CountryTax | None = None
    quickbooks_rate: Decimal | None = None
    platform: str = ""


@dataclass(frozen=True)
class Plan:
    """What the order becomes: ``data`` (the transaction's fields, its lines under ``"lines"``) as
    ``txn_type``; or ``skip`` (the rules leave it out), ``problem`` (it cannot be booked: a person must
    look) or ``needs`` (what must be linked in QuickBooks first, in words)."""

    txn_type: str | None = None
    data: dict[str, Any] | None = None
    skip: str = ""
    problem: str = ""
    needs: tuple[str, ...] = ()
    method_missing: str | None = None  # a payment method left out because QuickBooks lacks it

    @property
    def lines(self) -> list[dict[str, Any]]:
        """The transaction's lines (empty when there is no transaction)."""
        return list((self.data or {}).get("lines") or [])


GIFT_CARD_UNKNOWN = (
    "a gift card paid part of this order and qbsync could not read the order's transactions "
    "from Shopify to learn how much (they are read with the connection's Admin API access "
    "token, which needs read_orders); qbsync will not book gift card money as income: fix the "
    "token on the connection page, then push the order again from the Push page, or record "
    "it in QuickBooks by hand with the gift card part on the gift card item"
)


def below_zero(order: Order, txn_type: str) -> str:
    """Why an order whose money due (its total less what gift cards and store credit paid) is below zero
    is not sent ('' when it is not): QuickBooks refuses a sale below zero (an integrator's note,
    docs/SIMULATOR.md), and no sale of the store's could be right with it."""
    total, cards = money(order.total), money(order.gift_card_amount)
    if total - cards >= 0:
        return ""
    return (
        f"the order's total {total} less the {cards} gift cards or store credit paid is below zero, so "
        f"qbsync sends no {txn_type} (QuickBooks takes none below zero): check the order's total and gift "
        "card payments in the store, then push the order again from the Push page, or record it in "
        "QuickBooks by hand"
    )


def zero_sale(order: Order) -> bool:
    """Whether the order's sale comes to 0.00: a free order, or one gift cards or store credit paid in
    full."""
    return money(order.total) - money(order.gift_card_amount) == 0


def zero_sale_refused(order: Order, txn_type: str, refusal: str) -> str:
    """Why the order's ``txn_type`` waits for a person when the sale comes to 0.00 (:func:`zero_sale`) and
    the company file refused it, or refused one before (``zero_refusals``); '' for any other sale. Whether
    QuickBooks takes a sale of 0.00 is not known (docs/SIMULATOR.md, assumed both ways), so its refusal is
    the likely cause, named with the fix; QuickBooks' own words (``refusal``) come first."""
    if not zero_sale(order):
        return ""
    cards = money(order.gift_card_amount)
    why = ("gift cards or store credit paid all of it" if cards > 0 else "the order's total is 0.00")
    return (
        f"{refusal.rstrip('.')}. The {txn_type} comes to 0.00 ({why}), and this QuickBooks company file "
        f"seems to take no {txn_type} of 0.00, so nothing was recorded for the order, and qbsync sends no "
        f"such {txn_type} to this company file (a retry waits the same way). Record the order in QuickBooks "
        "by hand as you book such sales (its items, and what paid for them), then remove this job from the "
        "queue"
    )


def plan(
    order: Order,
    company: Company,
    settings: Mapping[str, Any],
    *,
    decision: rules.OrderDecision | None = None,
    txn_type: str | None = None,
    omit_payment_method: bool = False,
) -> Plan:
    """What a new order becomes in ``company`` under ``settings``.

    ``decision`` is the rules' decision made at intake (decided here when not given); ``txn_type`` a type
    chosen earlier for the order (kept while it is on its way); ``omit_payment_method`` leaves the
    payment method out (QuickBooks answered that it lacks it).
    """
    admitted = admit(order, company.facts, settings, decision=decision, txn_type=txn_type)
    if admitted.txn_type is None or admitted.problem:
        return admitted
    return transaction(order, company, settings, admitted.txn_type, omit_payment_method)


def admit(
    order: Order,
    facts: company_facts.CompanyFacts,
    settings: Mapping[str, Any],
    *,
    decision: rules.OrderDecision | None = None,
    txn_type: str | None = None,
) -> Plan:
    """Whether a new order is booked at all, before any of its transaction is worked out: a plan with
    only its ``txn_type``, or its ``skip`` or ``problem`` (what :func:`plan` answers first).

    Enough for the look-up by RefNumber that goes before the add: it needs the type, not the lines.
    """
    decision = decision or rules.decide_order(order, settings)
    if not decision.sync:
        return Plan(skip=decision.reason)
    if order.gift_card_amount is None:
        return Plan(problem=GIFT_CARD_UNKNOWN)
    problem = company_facts.currency_problem(order.currency, facts)
    if problem:
        return Plan(problem=problem)
    chosen = txn_type or decision.txn_type
    if chosen is None:
        raise ValueError("the rules chose no transaction type for a synced order")
    return Plan(txn_type=chosen, problem=below_zero(order, chosen))  # nothing, not even a look-up


def needs(order: Order, company: Company, settings: Mapping[str, Any]) -> tuple[str, ...]:
    """What the order's transaction refers to that is not linked to QuickBooks yet, in words (a gift card
    sold goes on the gift card item, not on an item of its own)."""
    missing = []
    if company.customer is None:
        missing.append("the order's customer is not linked to a QuickBooks customer")
    for line in order.lines:
        if rules.is_gift_card_sale(line, settings):
            continue
        if line_key(line) not in company.items:
            missing.append(f"the product of line {line.name!r} is not linked to a QuickBooks item")
    return tuple(missing)


def transaction(
    order: Order,
    company: Company,
    settings: Mapping[str, Any],
    txn_type: str,
    omit_payment_method: bool = False,
) -> Plan:
    """The order as a ``txn_type`` transaction (for a new order, or a change to one in QuickBooks)."""
    problem = below_zero(order, txn_type)  # before anything is linked or added for it
    if problem:
        return Plan(txn_type=txn_type, problem=problem)
    missing = needs(order, company, settings)
    if missing:
        return Plan(txn_type=txn_type, needs=missing)
    method = rules.payment_method_name(order, settings)
    method_missing = None
    if (
        txn_type == "SalesReceipt"
        and method
        and not omit_payment_method
        and method.strip().lower() in company.lacks_payment_methods
    ):
        # Left out: QuickBooks would only answer 3140 for it.
        omit_payment_method, method_missing = True, method
    assert company.customer is not None  # checked by needs()
    refs = Refs(company.customer, dict(company.items), dict(company.specials))
    us = company.facts.is_us
    rate = company_facts.exchange_rate(order, company.facts)  # the store's own conversion, if it made one
    data = header(order, txn_type, refs, settings, company.platform, omit_payment_method, us, rate)
    country = None
    if not us:
        country = company.country_tax
        if country is None:
            why = "the company's sales tax codes are not known yet (its lists are being read)"
            return Plan(txn_type=txn_type, needs=(why,))
    data["lines"] = sales_lines(order, refs, settings, company.quickbooks_rate, country)
    return Plan(txn_type=txn_type, data=data, method_missing=method_missing)
