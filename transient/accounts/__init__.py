"""Dashboard users: passwords (argon2), TOTP, server-side sessions, sign-in throttling and
the audit log. May import core and store."""
