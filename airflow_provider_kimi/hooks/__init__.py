"""Hooks of the Kimi provider."""
