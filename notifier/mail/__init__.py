"""The weekly email and its addresses: SMTP, the weekly job, signed links, the double opt-in."""
