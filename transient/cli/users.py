"""``transient users``: the dashboard's people. ``create`` makes one (the first owner
this way: there is no default account and no default password), ``list`` shows them.

The password comes from standard input with ``--password-stdin`` (its first line), else
it is asked on the terminal, twice; it is never an argument (argv is visible to others).
"""

import contextlib
import getpass
import sys

from ..accounts.service import Accounts
from ..core.clock import iso
from ..core.errors import Conflict, ValidationError
from ..store import migrations
from ..store.db import open_database
from ..store.users import ROLES
from .util import OK, load_config, print_json, table, usage


def register(sub, common):
    users = sub.add_parser(
        "users",
        parents=[common],
        help="dashboard users: create, list",
        description="The people who sign in to the dashboard ([dashboard] path), each with a role:"
        " viewer (reads), manager (acts on payments and webhooks), owner (users, keys, settings).",
    )
    actions = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", parents=[common], help="add a user (the first: --role owner)")
    create.add_argument("email", metavar="EMAIL")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input (its first line)"
    )
    create.set_defaults(func=cmd_create)
    listing = actions.add_parser("list", parents=[common], help="the users (never their passwords)")
    listing.set_defaults(func=cmd_list)


@contextlib.contextmanager
def open_accounts(config):
    db = open_database(config["database.url"])
    try:
        migrations.check(db)
        yield Accounts(db, require_2fa=config["dashboard.require_2fa"])
    finally:
        db.close()


def _password(args):
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise usage("no terminal to ask the password on: give --password-stdin and pipe it in")
    first = getpass.getpass("Password for %s: " % args.email)
    if getpass.getpass("Again: ") != first:
        raise usage("the two passwords differ")
    return first


def cmd_create(args):
    password = _password(args)
    config = load_config(args)
    with open_accounts(config) as accounts:
        try:
            user = accounts.create_user(args.email, args.role, password)
        except (ValidationError, Conflict) as exc:
            raise usage("%s: %s" % (exc.field, exc.message)) from None
    if args.json:
        print_json({"id": user.id, "email": user.email, "role": user.role})
    else:
        print("created %s %s; sign in at %s/login" % (user.role, user.email, config["dashboard.path"]))
        if user.role == "owner" and config["dashboard.require_2fa"]:
            print("At the first sign-in you set up two-factor codes (an authenticator app).")
    return OK


def cmd_list(args):
    with open_accounts(load_config(args)) as accounts:
        rows = [
            {
                "id": u.id,
                "email": u.email,
                "role": u.role,
                "two_factor": bool(u.totp_secret),
                "last_login_at": iso(u.last_login_at),
                "disabled": u.disabled_at is not None,
            }
            for u in accounts.users()
        ]
    if args.json:
        print_json(rows)
    else:
        table(
            [(r["email"], r["role"], "on" if r["two_factor"] else "off", r["last_login_at"] or "-") for r in rows],
            ["EMAIL", "ROLE", "2FA", "LAST SIGN-IN"],
        )
    return OK
