"""Operators of the Kimi provider."""
