"""Random streams: one independent generator per chunk of runs, derived from the seed.

Chunk ``c`` of a simulation with seed ``s`` always uses the stream of ``SeedSequence(s,
spawn_key=(c,))`` (the ``c``-th child that ``SeedSequence(s).spawn`` would give), whichever thread
runs it, so results do not depend on the thread count. The generator inside compiled code is
xoshiro256** (Blackman and Vigna), four 64-bit words of state per chunk, seeded from the
SeedSequence. On top of it sit ziggurat samplers for the standard normal and the exponential
(Marsaglia and Tsang 2000, in Doornik's 2005 form, with the layer index and the uniform taken from
separate bits of one draw) and the Marsaglia-Tsang (2000) gamma sampler, which draws one normal and
one uniform per gamma in about 98 % of cases. The ziggurat layers are computed here at import from
the published constants (R, V) of each ziggurat.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_U53 = 1.0 / 9007199254740992.0  # 2**-53


def ziggurat_layers(f, f_inv, r: float, v: float, layers: int) -> np.ndarray:
    """Right edges x[0..layers] of a ziggurat of ``layers`` layers of area ``v`` under the
    decreasing density ``f`` (unnormalised, f(0) = 1) with its tail beyond ``r``: x[0] = v / f(r)
    is the width of the base strip (the rectangle up to r and the tail, area v), x[1] = r, and each
    layer above has area v: x[i+1] = f_inv(v / x[i] + f(x[i])); x[layers] = 0."""
    x = np.empty(layers + 1)
    x[0] = v / f(r)
    x[1] = r
    for i in range(2, layers):
        x[i] = f_inv(v / x[i - 1] + f(x[i - 1]))
    x[layers] = 0.0
    return x


# Standard normal, 128 layers: R and V from Doornik (2005), "An Improved Ziggurat Method to Generate
# Normal Random Samples". Exponential, 256 layers: R and V from Marsaglia and Tsang (2000).
NORMAL_R = 3.442619855899
NORMAL_V = 9.91256303526217e-3
_ZN = ziggurat_layers(lambda x: math.exp(-0.5 * x * x), lambda y: math.sqrt(-2.0 * math.log(y)),
                      NORMAL_R, NORMAL_V, 128)
_ZN_RATIO = _ZN[1:] / _ZN[:-1]  # the part of layer i inside the curve for sure
EXP_R = 7.69711747013104972
EXP_V = 3.949659822581572e-3
_ZE = ziggurat_layers(lambda x: math.exp(-x), lambda y: -math.log(y), EXP_R, EXP_V, 256)
_ZE_RATIO = _ZE[1:] / _ZE[:-1]


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
def normal(state):
    """Standard normal by the 128-layer ziggurat: one 64-bit draw gives the layer (low 7 bits) and
    a uniform on (-1, 1) (top 53 bits); about 99 % of draws return at the first comparison."""
    while True:
        bits = next_u64(state)
        i = np.int64(bits & np.uint64(127))
        u = 2.0 * (((bits >> np.uint64(11)) + 0.5) * _U53) - 1.0
        if abs(u) < _ZN_RATIO[i]:  # inside the layer's rectangle, under the curve for sure
            return u * _ZN[i]
        if i == 0:  # the tail beyond R (Marsaglia 1964)
            while True:
                x = math.log(uniform(state)) / NORMAL_R
                y = math.log(uniform(state))
                if -2.0 * y >= x * x:
                    return x - NORMAL_R if u < 0.0 else NORMAL_R - x
        x = u * _ZN[i]  # the wedge: accept under the curve
        f0 = math.exp(-0.5 * (_ZN[i] * _ZN[i] - x * x))
        f1 = math.exp(-0.5 * (_ZN[i + 1] * _ZN[i + 1] - x * x))
        if f1 + uniform(state) * (f0 - f1) < 1.0:
            return x


@nb.njit(cache=True, inline="always")
def exponential(state):
    """Exponential(1) by the 256-layer ziggurat; the tail beyond R is R + Exponential(1)."""
    while True:
        bits = next_u64(state)
        i = np.int64(bits & np.uint64(255))
        u = ((bits >> np.uint64(11)) + 0.5) * _U53
        if u < _ZE_RATIO[i]:
            return u * _ZE[i]
        if i == 0:
            return EXP_R - math.log(uniform(state))
        x = u * _ZE[i]
        f0 = math.exp(x - _ZE[i])
        f1 = math.exp(x - _ZE[i + 1])
        if f1 + uniform(state) * (f0 - f1) < 1.0:
            return x


@nb.njit(cache=True, inline="always")
def gamma_constants(shape):
    """Marsaglia-Tsang's d and c for a shape >= 1 (for shape < 1: those of shape + 1)."""
    d = (shape + 1.0 if shape < 1.0 else shape) - 1.0 / 3.0
    return d, 1.0 / math.sqrt(9.0 * d)


@nb.njit(cache=True, inline="always")
def gamma_prepared(state, shape, d, c):
    """Gamma(shape, 1) with :func:`gamma_constants` computed once for the shape, as a simulation
    draws the same shapes millions of times (the square root and division are a third of a draw)."""
    if shape == 1.0:
        return exponential(state)
    boost = 1.0
    if shape < 1.0:
        boost = uniform(state) ** (1.0 / shape)
    while True:
        x = normal(state)
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


@nb.njit(cache=True, inline="always")
def gamma(state, shape):
    """Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 via Gamma(shape + 1) * U**(1/shape).

    Shape 1 (an equal split of ten lists at concentration 10, say) is the exponential.
    """
    d, c = gamma_constants(shape)
    return gamma_prepared(state, shape, d, c)
