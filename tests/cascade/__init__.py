"""Cascade reloads: one transaction for a plugin and every active plugin depending on it."""
