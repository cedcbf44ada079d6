"""Test support behind ``hotbus.testing``: the harness and saving files the way editors do."""
