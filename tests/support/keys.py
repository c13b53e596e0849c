"""The keys of the field client suite: the office key pair the tests' laptops seal to, and the
device data key their operators' PINs unwrap (a laptop itself never keeps it)."""

from __future__ import annotations

from typing import Any

from nacl.public import PrivateKey

from field_client.store.keys import OFFICE_KEY_ID_META, OFFICE_KEY_META
from field_client.store.outbox import Outbox
from shared import datakey
from shared.sealing import b64, open_record, open_sealed

#: The office key pair of the tests' laptops (what records and files get sealed to).
OFFICE_KEY = PrivateKey.generate()
OFFICE_KID = "test-key"
#: The data key of the tests' devices.
DATA_KEY = datakey.new_data_key()


def give_office_key(outbox: Outbox) -> None:
    """Store the tests' office key as registration would; call inside ``outbox.atomic()``."""
    outbox.set_meta(OFFICE_KEY_ID_META, OFFICE_KID)
    outbox.set_meta(OFFICE_KEY_META, b64(bytes(OFFICE_KEY.public_key)))


def office_key_document() -> dict[str, str]:
    """The ``office_key`` object of a registration or profile answer."""
    return {"kid": OFFICE_KID, "public": b64(bytes(OFFICE_KEY.public_key))}


def open_sealed_record(sealed: bytes) -> Any:
    """What the office sees of a sealed record."""
    return open_record(bytes(OFFICE_KEY), sealed)


def open_sealed_file(sealed: bytes) -> bytes:
    """What the office sees of a sealed file."""
    return open_sealed(bytes(OFFICE_KEY), sealed)
