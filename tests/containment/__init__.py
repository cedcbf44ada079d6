"""Containment: no plugin can hang, kill or stall the runtime, and stopping always works."""
