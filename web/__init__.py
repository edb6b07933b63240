"""The web app of the weekly email (sign-up, confirm, unsubscribe, the digest in a browser)."""

from web.app import WebServer, create_web_app, start_web

__all__ = ["WebServer", "create_web_app", "start_web"]
