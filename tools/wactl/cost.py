"""``wactl cost``: what Meta charges, from the pricing its status webhooks carry.

Each status webhook of a message says how Meta prices it (``pricing``: ``billable``,
``pricing_model``, ``category``: marketing, utility, authentication, service, ...). A message is
counted once, on the day of its first status that carries pricing, with the template it was (the
sender's record of it). Meta's rates depend on the recipient's country and change over time, so
amounts are computed only from the rates given (``--rate marketing=0.025``); without them the
command counts messages, which is what Meta's invoice multiplies.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from decimal import Decimal, InvalidOperation

from wacloud.table.activity import Charge
from wactl.arguments import day
from wactl.failed import day_count, days_ending
from wactl.output import Output, table
from wactl.records import Records
from wactl.target import OUTPUT_TABLE, from_arguments


def rate(text: str) -> tuple[str, Decimal]:
    category, _, amount = text.partition("=")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise argparse.ArgumentTypeError("expected CATEGORY=AMOUNT, for example marketing=0.025") from None
    if not category or value < 0:
        raise argparse.ArgumentTypeError("expected CATEGORY=AMOUNT, for example marketing=0.025")
    return category.lower(), value


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    cost = commands.add_parser(
        "cost",
        parents=[common],
        help="Meta's charges from the pricing in status webhooks, by day, category and template",
        description="Messages Meta prices, from the pricing its status webhooks carry: per day (UTC), "
        "category and template, billable or not. Reads the table with one Scan.",
    )
    cost.add_argument("--day", type=day, metavar="YYYY-MM-DD", help="the (last) day, UTC (default today)")
    cost.add_argument("--days", type=day_count, default=1, metavar="N", help="the N days ending with --day")
    cost.add_argument(
        "--rate",
        type=rate,
        action="append",
        default=[],
        metavar="CATEGORY=AMOUNT",
        help="price of one billable message of a category (your rate card's), to add up amounts",
    )
    cost.set_defaults(handler=_cost_command)


def _cost_command(args: argparse.Namespace, out: Output) -> int:
    days = days_ending(args.day or time.strftime("%Y-%m-%d", time.gmtime()), args.days)
    rates = dict(args.rate)
    target = from_arguments(args, needs=[OUTPUT_TABLE])
    out.counter(f"reading table {target.table_name} (one Scan)")
    charges: Counter[Charge] = Records(target.table()).activity(days).charges
    out.counter_done()
    ordered = sorted(
        charges.items(),
        key=lambda pair: (pair[0].day, pair[0].category, pair[0].template or "", str(pair[0].billable)),
    )
    rows = []
    documents = []
    amount_total = Decimal(0)
    billable_total = 0
    for charge, count in ordered:
        price = rates.get(charge.category.lower()) if charge.billable else Decimal(0)
        amount = None if price is None else price * count
        if amount is not None:
            amount_total += amount
        if charge.billable:
            billable_total += count
        documents.append(
            {
                "day": charge.day,
                "category": charge.category,
                "template": charge.template,
                "billable": charge.billable,
                "pricing_model": charge.pricing_model,
                "messages": count,
                "amount": None if amount is None else str(amount),
            }
        )
        rows.append(
            [
                charge.day,
                charge.category,
                charge.template or "-",
                {True: "yes", False: "no", None: "?"}[charge.billable],
                charge.pricing_model or "-",
                str(count),
                "-" if amount is None else f"{amount:.4f}",
            ]
        )
    span = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
    lines = [f"Messages Meta priced {span} (UTC), {target.description}: {sum(charges.values())}"]
    if rows:
        lines += table(["DAY", "CATEGORY", "TEMPLATE", "BILLABLE", "MODEL", "MESSAGES", "AMOUNT"], rows)
    lines.append(
        f"Billable: {billable_total}" + (f", amount {amount_total:.4f} at the rates given" if rates else "")
    )
    if not rates and billable_total:
        lines.append(
            "Amounts: give your rate card's prices, e.g. --rate marketing=0.025 --rate utility=0.004"
        )
    out.result(
        {
            "target": target.description,
            "days": days,
            "rates": {category: str(price) for category, price in rates.items()},
            "charges": documents,
            "billable": billable_total,
            "amount": str(amount_total) if rates else None,
        },
        lines,
    )
    return 0
