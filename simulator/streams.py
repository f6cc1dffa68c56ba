"""Random streams: one independent generator per chunk of runs, derived from the seed.

Chunk ``c`` of a simulation with seed ``s`` always uses the stream of ``SeedSequence(s,
spawn_key=(c,))`` (the ``c``-th child that ``SeedSequence(s).spawn`` would give), whichever thread
runs it, so results do not depend on the thread count. The generator inside compiled code is
xoshiro256** (Blackman and Vigna), four 64-bit words of state per chunk, seeded from the
SeedSequence; on top of it sit a polar-method normal sampler and Marsaglia-Tsang gamma sampler.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_U53 = 1.0 / 9007199254740992.0  # 2**-53


def chunk_states(seed: int | None, first_chunk: int, count: int) -> np.ndarray:
    """xoshiro256** states (count x 4 uint64) for chunks first_chunk .. first_chunk + count - 1."""
    if seed is None:
        raise ValueError("resolve a None seed to an int first (see fresh_seed)")
    states = np.empty((count, 4), np.uint64)
    for j in range(count):
        ss = np.random.SeedSequence(seed, spawn_key=(first_chunk + j,))
        state = ss.generate_state(4, np.uint64)
        if not state.any():  # the all-zero state is xoshiro's one fixed point
            state[0] = 1
        states[j] = state
    return states


def fresh_seed() -> int:
    """A new random seed from the OS, to be reported so the run can be repeated."""
    return int(np.random.SeedSequence().entropy % (2**63))


@nb.njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@nb.njit(cache=True, inline="always")
def next_u64(state):
    """Advance a xoshiro256** state (uint64[4], in place) and return the next 64 random bits."""
    s0 = state[0]
    s1 = state[1]
    s2 = state[2]
    s3 = state[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0] = s0
    state[1] = s1
    state[2] = s2
    state[3] = s3
    return result


@nb.njit(cache=True, inline="always")
def uniform(state):
    """Uniform on (0, 1): 53 random bits, offset by half a step so that 0 never comes out."""
    return ((next_u64(state) >> np.uint64(11)) + 0.5) * _U53


@nb.njit(cache=True, inline="always")
def normal(state, spare):
    """Standard normal by Marsaglia's polar method; ``spare`` (float64[2]) caches the second value."""
    if spare[0] != 0.0:
        spare[0] = 0.0
        return spare[1]
    while True:
        u = 2.0 * uniform(state) - 1.0
        v = 2.0 * uniform(state) - 1.0
        s = u * u + v * v
        if 0.0 < s < 1.0:
            f = math.sqrt(-2.0 * math.log(s) / s)
            spare[0] = 1.0
            spare[1] = v * f
            return u * f


@nb.njit(cache=True, inline="always")
def gamma(state, spare, shape):
    """Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 via Gamma(shape + 1) * U**(1/shape).

    Shape 1 (an equal split of ten lists at concentration 10, say) is the exponential: -log U.
    """
    if shape == 1.0:
        return -math.log(uniform(state))
    boost = 1.0
    if shape < 1.0:
        boost = uniform(state) ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = normal(state, spare)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(state)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:  # cheap squeeze, accepts ~98 %
            return d * v * boost
        if math.log(u) < 0.5 * x2 + d * (1.0 - v + math.log(v)):
            return d * v * boost
