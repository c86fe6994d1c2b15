"""Pages: the one Jinja2 environment (autoescaping, the i18n extension), the base layout every
page extends and the headers every HTML page sends. May import core only."""
