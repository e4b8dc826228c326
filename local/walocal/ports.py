"""Free ports for a runtime started beside others (tests, benchmarks): distinct, all chosen at once."""

from __future__ import annotations

import random
import socket
from pathlib import Path

# Ports the kernel hands out for outgoing connections (Linux's default; macOS and Windows use
# 49152-65535). A port chosen there can be taken by any client socket between being chosen and
# being bound, and a test suite opens thousands of them.
_EPHEMERAL_DEFAULT = (32768, 60999)
_LOWEST = 10000
_TRIES = 200
# Below this many ports under the range, the kernel chooses: too few to pick at random among.
_MIN_BAND = 1000


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return _EPHEMERAL_DEFAULT


def _bindable(port: int, host: str) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports, chosen below the ephemeral range so that no outgoing
    connection takes one before it is bound; from the kernel's own choice if that band is too
    small or too busy."""
    low, _ = _ephemeral_range()
    chosen: list[int] = []
    if low - _LOWEST >= _MIN_BAND:
        for port in random.sample(range(_LOWEST, low), k=_TRIES):
            if _bindable(port, host):
                chosen.append(port)
                if len(chosen) == count:
                    return chosen
    return _kernel_ports(count, host)


def _kernel_ports(count: int, host: str) -> list[int]:
    """Each socket stays bound until all are chosen, so none repeats."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
