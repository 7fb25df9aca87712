"""Triggers of the Kimi provider."""
