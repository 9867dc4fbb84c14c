"""Counter-based randomness: random numbers as a pure function of a key, vectorized with numpy.

Every random draw of a reading is a hash of (seed, series, reading number, purpose). So a reading's value does
not depend on which partition produces it, in which batch, or whether the run was resumed: a run cut into any
number of partitions gives the same readings as one partition, and a resumed run continues exactly.
The hash is the SplitMix64 finalizer (Steele, Lea and Flood 2014), which passes BigCrush on counters.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0**-53

# One salt per purpose, so that draws for different purposes are independent.
SALT_NOISE_A = 0x243F6A8885A308D3
SALT_NOISE_B = 0x13198A2E03707344
SALT_SLOW = 0xA4093822299F31D0
SALT_FAULT = 0x082EFA98EC4E6C89
SALT_FAULT_DETAIL = 0x452821E638D01377
SALT_KNOT = 0xBE5466CF34E90C6C
SALT_SERIES = 0xC0AC29B7C97C50DD
SALT_GARBAGE = 0x3F84D5B5B5470917


def mix64(x: U64) -> U64:
    """SplitMix64 finalizer of a uint64 array (a new array; wraps modulo 2**64 by design)."""
    z = x ^ (x >> _S30)
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def as_u64(values: npt.ArrayLike) -> U64:
    """Integers (possibly negative) reinterpreted as uint64 bit patterns."""
    return np.asarray(values, dtype=np.int64).view(np.uint64)


def seed_key(seed: int, salt: int) -> np.uint64:
    """A well-mixed 64-bit key for a seed and a purpose."""
    return np.uint64(mix64(np.array([(seed * 0x9E3779B97F4A7C15 + salt) % 2**64], dtype=np.uint64))[0])


def combine(key: U64 | np.uint64, counter: U64) -> U64:
    """Hash of (key, counter) pairs, broadcasting: a new independent key per counter."""
    return mix64(np.asarray(key, dtype=np.uint64) ^ (counter * GOLDEN))


def stream(key: U64, salt: int) -> U64:
    """An independent draw for one purpose from per-reading keys."""
    return mix64(key ^ np.uint64(salt))


def to_unit(bits: U64) -> F64:
    """Uniform floats in [0, 1) from 64-bit hashes (top 53 bits)."""
    return (bits >> _S11).astype(np.float64) * _TO_UNIT


def uniform(key: U64, salt: int) -> F64:
    return to_unit(stream(key, salt))


def normal(key: U64, salt_a: int = SALT_NOISE_A, salt_b: int = SALT_NOISE_B) -> F64:
    """Standard normal draws (Box-Muller) from per-reading keys."""
    u1 = 1.0 - uniform(key, salt_a)  # (0, 1]: log is finite
    u2 = uniform(key, salt_b)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def smoothstep(x: F64) -> F64:
    """3x^2 - 2x^3 on [0, 1] (clipped outside): a ramp with zero slope at both ends."""
    c = np.clip(x, 0.0, 1.0)
    return c * c * (3.0 - 2.0 * c)
