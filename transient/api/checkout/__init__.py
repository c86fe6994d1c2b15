"""What a customer sees: the /pay/{id} page, its template and static files, the QR images.

May import core and payments (it renders through the payments service)."""
