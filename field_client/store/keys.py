"""The keys a laptop works with: the office's public key (records and files are sealed to it)
and, while an operator is logged in, the device's data key (DK) their PIN unwrapped.

Neither secret is ever on disk in clear: the office's secret key never reaches the laptop, and
DK lives in memory only, for one command or one web session.
"""

from __future__ import annotations

from dataclasses import dataclass

from field_client.errors import NotRegistered
from field_client.store.outbox import Outbox
from shared.sealing import unb64

OFFICE_KEY_META, OFFICE_KEY_ID_META = "office_key", "office_key_id"


@dataclass(frozen=True)
class OfficeKey:
    """The office key records and files are sealed to: its id and public key."""

    kid: str
    public: bytes


@dataclass(frozen=True)
class Keys:
    """What saving needs: the office key to seal to, and the data key for the local boxes."""

    office: OfficeKey
    data_key: bytes


def office_key(outbox: Outbox) -> OfficeKey:
    """The office key the laptop received; :class:`NotRegistered` when it has none."""
    kid, public = outbox.get_meta(OFFICE_KEY_ID_META), outbox.get_meta(OFFICE_KEY_META)
    if not kid or not public:
        raise NotRegistered(
            "Laptop ini belum menerima kunci kantor: daftarkan dulu (jemput-field register) "
            "atau sinkronkan sekali. Tidak ada yang disimpan."
        )
    return OfficeKey(kid, unb64(public))


def keys(outbox: Outbox, data_key: bytes) -> Keys:
    """The office key and ``data_key`` together."""
    return Keys(office_key(outbox), data_key)
