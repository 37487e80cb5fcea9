"""Connectors: one module per platform (upload, publish or schedule, status, metrics, token refresh, error classification)."""
