"""``transient keys``: make, list and revoke the API keys stored in the database.

A key is printed once, when it is made: the database keeps only its SHA-256.
"""

import contextlib

from ..core.clock import iso, utcnow
from ..core.keys import SCOPES, parse_scopes
from ..greenfield import shapes as greenfield
from ..greenfield.invoices import store_id
from ..store import migrations
from ..store.db import open_database
from ..store.keys import KeyStore
from .util import OK, load_config, print_json, table, usage


def register(sub, common):
    keys = sub.add_parser(
        "keys",
        parents=[common],
        help="API keys: create (shown once), list, revoke",
        description="API keys stored hashed in the database, each with scopes: %s "
        "(admin holds them all). The [api] keys of the config hold every scope." % ", ".join(SCOPES),
    )
    actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser("create", parents=[common], help="make a key and print it (once)")
    create.add_argument(
        "--scope",
        action="append",
        metavar="SCOPE",
        help="a scope the key holds (repeat, or comma-separate): %s" % ", ".join(SCOPES),
    )
    create.add_argument(
        "--greenfield",
        action="store_true",
        help="a key for a BTCPay Greenfield client (the WooCommerce plugin): exactly the"
        " permissions it requires (%s); prints the store id too" % ", ".join(greenfield.PLUGIN_SCOPES),
    )
    create.add_argument("--label", help="what the key is for, e.g. 'shop backend'")
    create.set_defaults(func=cmd_create)

    listing = actions.add_parser("list", parents=[common], help="the stored keys (never the keys themselves)")
    listing.add_argument("--active", action="store_true", help="leave out revoked keys")
    listing.set_defaults(func=cmd_list)

    revoke = actions.add_parser("revoke", parents=[common], help="revoke a key: it is refused (401) at once")
    revoke.add_argument("id", metavar="KEY_ID", help="the key's id (see `keys list`), or the key itself")
    revoke.set_defaults(func=cmd_revoke)


@contextlib.contextmanager
def open_store(config):
    """Yield the KeyStore of the config's database (migrated): keys need no coin node."""
    db = open_database(config["database.url"])
    try:
        migrations.check(db)
        yield KeyStore(db)
    finally:
        db.close()


def _row(row):
    return {
        "id": row.public_id,
        "label": row.label,
        "scopes": row.scopes.split(),
        "created_at": iso(row.created_at),
        "revoked_at": iso(row.revoked_at),
    }


def cmd_create(args):
    if args.greenfield and args.scope:
        raise usage("give --greenfield or --scope, not both")
    if not args.greenfield and not args.scope:
        raise usage("give --scope (repeat for several) or --greenfield")
    try:
        scopes = list(greenfield.PLUGIN_SCOPES) if args.greenfield else parse_scopes(args.scope)
    except ValueError as exc:
        raise usage("--scope: %s" % exc) from None
    if args.greenfield and args.label is None:
        args.label = "WooCommerce"
    if args.label is not None and not 0 < len(args.label) <= 255:
        raise usage("--label must be 1-255 characters")
    config = load_config(args)
    with open_store(config) as store:
        row, key = store.create(scopes, args.label)
        store_of = store_id(store.db, config["greenfield.store_id"], utcnow) if args.greenfield else None
    if args.greenfield:
        return _print_greenfield(args, row, key, store_of)
    if args.json:
        print_json({**_row(row), "key": key})
    else:
        print(
            "created key %s (%s)%s" % (row.public_id, ", ".join(scopes), " for %s" % args.label if args.label else "")
        )
        print(key)
        print("Store it now: it is not shown again (the database keeps only its hash).")
    return OK


def _print_greenfield(args, row, key, store_of):
    permissions = greenfield.permissions_of(greenfield.PLUGIN_SCOPES, store_of)
    if args.json:
        print_json({**_row(row), "key": key, "store_id": store_of, "permissions": permissions})
        return OK
    print(
        "created key %s for %s (Greenfield: %s)"
        % (row.public_id, row.label, ", ".join(p.split(":")[0] for p in permissions))
    )
    print(key)
    print("Store id: %s" % store_of)
    print("Store the key now: it is not shown again (the database keeps only its hash).")
    return OK


def cmd_list(args):
    with open_store(load_config(args)) as store:
        rows = [_row(r) for r in store.list(include_revoked=not args.active)]
    if args.json:
        print_json(rows)
    else:
        table(
            [
                (r["id"], " ".join(r["scopes"]), r["label"] or "-", r["created_at"], r["revoked_at"] or "active")
                for r in rows
            ],
            ["ID", "SCOPES", "LABEL", "CREATED", "REVOKED"],
        )
    return OK


def cmd_revoke(args):
    with open_store(load_config(args)) as store:
        row = store.revoke(args.id)
    if args.json:
        print_json(_row(row))
    else:
        print("revoked key %s (%s) at %s" % (row.public_id, row.label or "no label", iso(row.revoked_at)))
    return OK
