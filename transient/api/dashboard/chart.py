"""The overview's chart, drawn on the server: one bar a day of what a coin received,
as plain numbers (positions, heights, labels) that the template writes as SVG. The same
numbers are the table beside it, for screen readers and for reading exact amounts."""

from ...core.money import format_amount

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 640, 220, 16, 24, 8


def bars(currency, units, days, decimals):
    """``{"currency", "width", "height", "bars": [{x, y, w, h, label, amount}], "total"}``."""
    peak = max(units) or 1
    slot = (WIDTH - LEFT) / max(len(units), 1)
    plot = HEIGHT - TOP - BOTTOM
    out = []
    for n, (day, value) in enumerate(zip(days, units)):
        h = round(plot * value / peak, 1)
        out.append(
            {
                "x": round(LEFT + n * slot + slot * 0.15, 1),
                "y": round(TOP + plot - h, 1),
                "w": round(slot * 0.7, 1),
                "h": h,
                "label": day.strftime("%m-%d"),
                "day": day.isoformat(),
                "amount": format_amount(value, decimals),
                "tx": round(LEFT + n * slot + slot / 2, 1),
            }
        )
    return {
        "currency": currency,
        "width": WIDTH,
        "height": HEIGHT,
        "base": HEIGHT - BOTTOM,
        "bars": out,
        "total": format_amount(sum(units), decimals),
    }
