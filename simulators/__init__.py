"""Fake platforms that speak real wire protocols. Nothing here imports the harness."""
