"""Chat hosts: transports (the console, IRC), routing replies, and the admin commands."""
