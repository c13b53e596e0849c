"""Core: what every domain stands on. Configuration (the only reader of the environment), the
database extension and its migrations, the models, the audit chain, the blob store, tokens,
time, bulk inserts, errors (from the catalogue in ``shared.problems``) and CLI helpers."""
