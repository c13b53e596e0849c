"""Who is acting in the office: a user and their role, as every decision and the audit name them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """An office user acting: who (``username``) and with which ``role``."""

    username: str
    role: str

    @property
    def audit_name(self) -> str:
        """How the audit chain names this user."""
        return f"user:{self.username}"


#: Whoever may run the server's command line is its administrator.
CLI_ACTOR = Actor("cli", "admin")
