"""Code both the server and the field client import: the wire contract and the domain rules.

Nothing here imports Flask, SQLAlchemy or requests.
"""

from shared.protocol import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION"]
