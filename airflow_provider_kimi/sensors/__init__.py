"""Sensors of the Kimi provider."""
