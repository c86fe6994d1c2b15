"""The built-in rate sources, registered through the hook as a third party's would be."""

from .. import hookimpl
from .sources import BUILTIN


@hookimpl(trylast=True)
def transient_register_rate_sources():
    return list(BUILTIN)
