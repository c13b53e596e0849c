"""The service layer: plain values in, owns the transaction, raises ``server.core.errors``."""
