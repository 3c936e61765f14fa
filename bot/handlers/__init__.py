"""Routers: commands, pick callbacks, errors, and the catch-all (always last)."""
