"""E-mail to the customer and the merchant: which events make a message, the message
made from one Jinja2 template per kind (plain text and HTML, in the checkout's five
languages), queued as ``mailto:`` deliveries in the event's transaction.

May import every room below the settings (the checkout's catalogs and number formats,
the delivery queue); the MailDispatcher (delivery/mail.py) sends what is queued here.
"""
