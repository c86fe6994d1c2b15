"""``transient rates``: every configured pair's rate, each source's quote and age, and why
a rate is unusable (what ``GET /rates/{currency}/{fiat}`` shows, for every pair)."""

from .util import FAILURE, OK, load_config, open_runtime, print_json, table


def register(sub, common):
    rates = sub.add_parser(
        "rates",
        parents=[common],
        help="show the fiat rate of every configured pair",
        description="The stored rates (kept fresh by transientd): each pair's rate, each "
        "source's quote and age, and why a rate is unusable. Exit code 1 when a pair has none.",
    )
    rates.set_defaults(func=cmd_rates)


def cmd_rates(args):
    with open_runtime(load_config(args)) as runtime:
        book = runtime.rates
        reports = [book.report(*pair.split("/")) for pair in book.pairs()]
    if args.json:
        print_json(reports)
    elif not reports:
        print('no fiat pairs: set [rates] fiat, e.g. fiat = ["USD"]')
    else:
        rows = []
        for r in reports:
            shown = r["rate"] or "-"
            for q in r["quotes"] or [{}]:
                age = q.get("age_seconds")
                rows.append(
                    (
                        r["pair"],
                        shown,
                        q.get("source", "-"),
                        q.get("pair", ""),
                        q.get("rate") or "-",
                        "%ds" % age if age is not None else "-",
                        q.get("state", "") + (" (%s)" % q["error"] if q.get("error") else ""),
                    )
                )
                shown = ""
        table(rows, ["PAIR", "RATE", "SOURCE", "QUOTED", "QUOTE", "AGE", "STATE"])
        for r in reports:
            if not r["usable"]:
                print("%s: %s" % (r["pair"], r["reason"]))
    return OK if all(r["usable"] for r in reports) else FAILURE
