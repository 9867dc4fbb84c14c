"""Routing keys that spread the flow's keyed steps evenly over the workers.

Bytewax 0.21 sends a keyed item to worker ``siphash13(key bytes + b"\\xff") % workers`` (Rust's
``DefaultHasher`` with zero keys, hashing a ``String``), and deals ``FixedPartitionedSource`` partitions to
workers round-robin in sorted name order. With keys like ``"0".."3"`` the hash can put every shard on one
worker (seen here: all 4 shards and both file partitions on process 1 of 2). So every keyed step uses a
*balanced key*: for rank ``r`` the first string ``"r~salt"`` whose hash is ``r`` modulo 840, which Bytewax
routes to worker ``r % W`` for every worker count W that divides 840 (1-8, 10, 12, 14, 15, 20, 21, 24, ...).
Keys do not depend on the worker count, so recovery state survives a rescale.

The partition-check step keys partition ``p`` by the rank of its name among the source's partitions, so it
runs on the worker that reads the partition (no exchange between the source and the check).
``tests/streaming/test_routing.py`` checks the hash against Bytewax's real routing.
"""

from __future__ import annotations

from functools import lru_cache

ROUTING_MODULUS = 840  # lcm(1..8)
_MASK = (1 << 64) - 1


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _MASK


def _sip_round(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    v0 = (v0 + v1) & _MASK
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & _MASK
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & _MASK
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & _MASK
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash13(data: bytes, k0: int = 0, k1: int = 0) -> int:
    """SipHash-1-3 (Rust's ``DefaultHasher``) of ``data``."""
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573
    n = len(data)
    end = n - n % 8
    for i in range(0, end, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
        v0 ^= m
    last = ((n & 0xFF) << 56) | int.from_bytes(data[end:], "little")
    v3 ^= last
    v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(3):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def bytewax_route(key: str, workers: int) -> int:
    """The worker Bytewax 0.21 sends an item with this key to."""
    return siphash13(key.encode() + b"\xff") % workers


# salts of balanced_key(0..63), found by the search below (saves ~20 ms per key at start-up; tested)
_SALTS = (
    418, 943, 4484, 1379, 591, 2017, 1085, 202, 345, 111, 1535, 1464, 1183, 132, 3450, 177, 1715, 2170, 1242, 381,
    492, 510, 1260, 653, 774, 1504, 871, 622, 522, 153, 714, 984, 1523, 627, 927, 1194, 1168, 856, 1116, 580, 241,
    813, 501, 519, 1030, 145, 519, 1038, 208, 2144, 2002, 1383, 1622, 1964, 264, 715, 1374, 76, 1257, 13, 149, 598,
    854, 727,
)


@lru_cache(maxsize=1024)
def balanced_key(rank: int) -> str:
    """A key that Bytewax routes to worker ``rank % W`` for every W dividing :data:`ROUTING_MODULUS`."""
    if 0 <= rank < len(_SALTS):
        return f"{rank}~{_SALTS[rank]}"
    return search_balanced_key(rank)


def search_balanced_key(rank: int) -> str:
    """The first ``"rank~salt"`` whose Bytewax route modulo :data:`ROUTING_MODULUS` is ``rank``."""
    target = rank % ROUTING_MODULUS
    salt = 0
    while bytewax_route(f"{rank}~{salt}", ROUTING_MODULUS) != target:
        salt += 1
    return f"{rank}~{salt}"


def partition_keys(part_names: list[str]) -> dict[str, str]:
    """Balanced keys for source partitions, by rank in sorted order (how Bytewax deals partitions)."""
    return {name: balanced_key(rank) for rank, name in enumerate(sorted(part_names))}
