"""`--ray ADDRESS` checked before anything is written or loaded: Ray importable, the address well formed and,
for a remote cluster, accepting connections within seconds (Ray's own client retries for minutes)."""

from __future__ import annotations

from types import ModuleType

from qwthn.errors import QwthnError

INSTALL = "pip install 'qwthn-transformers[ray]'"


def import_ray() -> ModuleType:
    try:
        import ray
    except ModuleNotFoundError:
        raise QwthnError(f"--ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


CONNECT_TIMEOUT_S = 10.0
"""Seconds a cluster address may take to accept a TCP connection before `--ray` gives up (Ray retries for minutes)."""


def check_address(address: str) -> None:
    """Before anything is written or loaded: Ray importable, an address given, and a remote address reachable.

    Ray's own client retries an unreachable GCS for minutes, printing a warning each time and
    ignoring Ctrl-C; a plain TCP connect with a timeout answers in seconds, in one line.
    """
    if not address.strip():
        raise QwthnError("--ray takes an address: local, auto, host:6379 or ray://host:10001")
    import_ray()
    if address in ("local", "auto"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise QwthnError(f"--ray {address!r} is not an address; pass local, auto, host:6379 or ray://host:10001")
    import socket

    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else (error.strerror or str(error))
        raise QwthnError(
            f"cannot reach a Ray cluster at {address!r} ({reason}); start one there (ray start --head) or pass "
            "--ray local"
        ) from None
