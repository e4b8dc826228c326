"""Ports for runtimes started side by side: free, distinct, and out of the kernel's way."""

from __future__ import annotations

import random
import socket

import pytest

from walocal import ports
from walocal.ports import free_ports


def test_ports_are_distinct_bindable_and_below_the_range_outgoing_connections_take() -> None:
    low, _ = ports._ephemeral_range()
    chosen = free_ports(4)
    assert len(set(chosen)) == 4
    assert all(ports._LOWEST <= port < low for port in chosen)
    for port in chosen:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_taken_port_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as held, socket.socket() as spare:
        held.bind(("127.0.0.1", 0))
        spare.bind(("127.0.0.1", 0))
        taken, other = held.getsockname()[1], spare.getsockname()[1]
        spare.close()
        monkeypatch.setattr(random, "sample", lambda population, k: [taken, taken, other])
        assert free_ports(1) == [other]


def test_with_no_room_below_the_range_the_kernel_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    low, high = ports._ephemeral_range()
    monkeypatch.setattr(ports, "_ephemeral_range", lambda: (ports._LOWEST + 10, high))
    chosen = free_ports(3)
    assert len(set(chosen)) == 3
    assert all(low <= port <= high for port in chosen)
