"""Random streams: one independent generator per chunk of runs, derived from the seed.

Chunk ``c`` of a simulation with seed ``s`` always uses the stream of ``SeedSequence(s,
spawn_key=(c,))`` (the ``c``-th child that ``SeedSequence(s).spawn`` would give), whichever thread
runs it, so results do not depend on the thread count. The generator inside compiled code is
xoshiro256** (Blackman and Vigna), four 64-bit words of state per chunk, seeded from the
SeedSequence. Its state is a tuple that every sampler takes and returns (``x, st = normal(st)``),
so compiled loops keep it in registers. On top of it sit ziggurat samplers for the standard
normal and the exponential (Marsaglia and Tsang 2000, in Doornik's 2005 form, with the layer index
and the uniform taken from separate bits of one draw) and the Marsaglia-Tsang (2000) gamma sampler,
one normal and one uniform per attempt. The ziggurat layers are computed here at import from the
published constants (R, V) of each ziggurat. :func:`fill_gamma` draws a block of gammas of one
shape at a time, with the same samplers arranged so that the common path has no calls.
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
def stream_state(words):
    """The state tuple of a stream from its four uint64 words (a row of :func:`chunk_states`)."""
    return (words[0], words[1], words[2], words[3])


@nb.njit(cache=True, inline="always")
def next_u64(st):
    """Advance a xoshiro256** state and return ``(the next 64 random bits, the new state)``.

    The state is a tuple of four uint64 that every sampler takes and returns, so compiled loops
    keep it in registers (a state array would go through memory at every draw)."""
    s0 = np.uint64(st[0])  # no-ops for a uint64 tuple; a tuple made in Python holds int64
    s1 = np.uint64(st[1])
    s2 = np.uint64(st[2])
    s3 = np.uint64(st[3])
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, (s0, s1, s2, s3)


@nb.njit(cache=True, inline="always")
def _unit(bits):
    """Uniform on (0, 1) from the top 53 of 64 bits, offset by half a step so 0 never comes out."""
    return ((bits >> np.uint64(11)) + 0.5) * _U53


@nb.njit(cache=True, inline="always")
def uniform(st):
    """Uniform on (0, 1): ``(u, new state)``."""
    bits, st = next_u64(st)
    return _unit(bits), st


@nb.njit(cache=True, inline="always")
def _normal_try(bits):
    """A normal ziggurat attempt from 64 bits: the layer i (low 7 bits), u uniform on (-1, 1)
    (top 53 bits), the candidate u * x_i, and whether it lies in the layer's sure part."""
    i = np.int64(bits & np.uint64(127))
    u = 2.0 * _unit(bits) - 1.0
    return i, u, u * _ZN[i], abs(u) < _ZN_RATIO[i]


@nb.njit(cache=True, inline="always")
def _exponential_try(bits):
    """An exponential ziggurat attempt from 64 bits: as :func:`_normal_try` (256 layers)."""
    i = np.int64(bits & np.uint64(255))
    u = _unit(bits)
    return i, u, u * _ZE[i], u < _ZE_RATIO[i]


@nb.njit(cache=True, inline="always")
def _normal_rest(st, u, i):
    """Finish a normal ziggurat attempt that missed layer i's sure part (u uniform on (-1, 1)):
    the tail beyond R for the base layer, the wedge test for the others. Returns ``(accepted, x,
    new state)``."""
    if i == 0:  # the tail beyond R (Marsaglia 1964)
        while True:
            a, st = uniform(st)
            b, st = uniform(st)
            x = math.log(a) / NORMAL_R
            if -2.0 * math.log(b) >= x * x:
                return True, (x - NORMAL_R if u < 0.0 else NORMAL_R - x), st
    x = u * _ZN[i]  # the wedge: accept under the curve
    f0 = math.exp(-0.5 * (_ZN[i] * _ZN[i] - x * x))
    f1 = math.exp(-0.5 * (_ZN[i + 1] * _ZN[i + 1] - x * x))
    v, st = uniform(st)
    return f1 + v * (f0 - f1) < 1.0, x, st


@nb.njit(cache=True)
def normal(st):
    """Standard normal by the 128-layer ziggurat: one 64-bit draw gives the layer (low 7 bits) and
    a uniform on (-1, 1) (top 53 bits); about 99 % of draws return at the first comparison.
    Returns ``(x, new state)``."""
    while True:
        bits, st = next_u64(st)
        i, u, x, sure = _normal_try(bits)
        if sure:  # inside the layer's rectangle, under the curve for sure
            return x, st
        ok, x, st = _normal_rest(st, u, i)
        if ok:
            return x, st


_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # ln 2 in two parts (Cody and Waite): k * _LN2_HI is exact
_LN2_LO = 1.9082149292705877e-10
_MAGIC = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer, kept in the low bits
_MAGIC_BITS = int(np.float64(_MAGIC).view(np.int64))


@nb.njit(cache=True, inline="always")
def _exp_reduced(r):
    """e**r for |r| <= ln(2) / 2: its Taylor polynomial of degree 13 (error below 1e-17)."""
    p = 1.0 / 6227020800.0
    for inv in (1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0,
                0.5, 1.0, 1.0):
        p = p * r + inv
    return p


@nb.njit(cache=True, error_model="numpy")
def exp_block(x, out, n, scratch):
    """out[j] = exp(x[j]) for j < n, within one ulp of the correctly rounded value for |x| <= 708,
    0 below -708 (where exp is subnormal); ``scratch`` is float64, n long. Pure arithmetic in
    loops the compiler vectorises (libm's exp is a call per element, about 3 times slower), and
    the same bits on every machine: x = k ln 2 + r, e**r by a polynomial, 2**k built in the
    exponent bits."""
    for j in range(n):
        xj = min(max(x[j], -708.0), 709.0)
        tj = xj * _LOG2E + _MAGIC
        k = tj - _MAGIC
        out[j] = _exp_reduced((xj - k * _LN2_HI) - k * _LN2_LO)
        scratch[j] = tj
    bits = scratch.view(np.int64)
    for j in range(n):
        bits[j] = (bits[j] - _MAGIC_BITS + 1023) << 52  # 2**k
    for j in range(n):
        out[j] = out[j] * scratch[j] if x[j] >= -708.0 else 0.0


@nb.njit(cache=True, error_model="numpy")
def fill_normal(st, out, n, pending, keep):
    """Fill out[0:n] with standard normals (the :func:`normal` ziggurat) and return the new state;
    ``pending`` (int64) and ``keep`` (float64) are scratch, n long. As :func:`fill_gamma`: a first
    pass with no calls makes every draw's first attempt, and a second finishes the 1 % that missed
    their layer's sure part exactly where :func:`normal` would, so each draw has its distribution."""
    waiting = 0
    for j in range(n):
        bits, st = next_u64(st)
        i, u, out[j], sure = _normal_try(bits)
        miss = not sure
        pending[j] = i if miss else -1
        keep[j] = u
        waiting += miss
    if waiting:
        for j in range(n):
            if pending[j] >= 0:
                ok, x, st = _normal_rest(st, keep[j], pending[j])
                if not ok:  # rejected: a fresh draw
                    x, st = normal(st)
                out[j] = x
    return st


@nb.njit(cache=True, inline="always")
def _exponential_rest(st, u, i):
    """Finish an exponential ziggurat attempt that missed layer i's sure part: ``(accepted, x,
    new state)``; see :func:`_normal_rest`."""
    if i == 0:  # the tail beyond R is R + Exponential(1)
        v, st = uniform(st)
        return True, EXP_R - math.log(v), st
    x = u * _ZE[i]
    f0 = math.exp(x - _ZE[i])
    f1 = math.exp(x - _ZE[i + 1])
    v, st = uniform(st)
    return f1 + v * (f0 - f1) < 1.0, x, st


@nb.njit(cache=True)
def exponential(st):
    """Exponential(1) by the 256-layer ziggurat: ``(x, new state)``."""
    while True:
        bits, st = next_u64(st)
        i, u, x, sure = _exponential_try(bits)
        if sure:
            return x, st
        ok, x, st = _exponential_rest(st, u, i)
        if ok:
            return x, st


@nb.njit(cache=True, inline="always")
def gamma_constants(shape):
    """Marsaglia-Tsang's d and c for a shape >= 1 (for shape < 1: those of shape + 1)."""
    d = (shape + 1.0 if shape < 1.0 else shape) - 1.0 / 3.0
    return d, 1.0 / math.sqrt(9.0 * d)


@nb.njit(cache=True, inline="always")
def _gamma_squeeze(d, c):
    """Constants (k2, k4) of the squeeze of :func:`_gamma_sure`."""
    return 0.5 * (1.0 - 9.0 * d * c * c), 1.5 * d * c * c * c * c


@nb.njit(cache=True, inline="always")
def _gamma_sure(x, u, c, k2, k4):
    """Squeezes for Marsaglia-Tsang's test ``log(u) < x^2/2 + d (1 - v + log v)``, v = (1 + cx)^3:
    True only where that test accepts (1 + cx > 0 is checked here). Two of them:

    - theirs, u < 1 - 0.0331 x^4, which fails for about a tenth of attempts (E x^4 = 3);
    - ours, with y = cx: the right side is 3d (log(1 + y) - y + y^2/2 - y^3/3) (as dc^2 = 1/9),
      and log(u) <= u - 1. For -1/2 <= y < 0, log(1 + y) >= y - y^2/2 + y^3/3 - y^4/2; for
      0 <= y <= 1 the alternating series gives log(1 + y) >= y - y^2/2 + y^3/3 - y^4/4. So the
      test accepts when u - 1 < k2 x^2 - k4 x^4 (k2 = (1 - 9dc^2)/2, which is 0 up to rounding,
      and k4 = 3dc^4/2 below 0, half that above: about -x^4 / (54 d)). It fails for about
      3 / (54 d) of attempts, so hardly ever for the large shapes that polls give, and where
      |y| is large, which matters for small shapes (|y| > 1/2 is |x| > 1.9 at shape 2).
    Either way, a squeeze changes only how soon an attempt is accepted, never which.
    """
    x2 = x * x
    y = c * x
    k = 0.5 * k4 if y > 0.0 else k4
    ours = -0.5 <= y <= 1.0 and u - 1.0 < k2 * x2 - k * x2 * x2
    return ours or (1.0 + y > 0.0 and u < 1.0 - 0.0331 * x2 * x2)


@nb.njit(cache=True, inline="always")
def _gamma_accept(x, u, d, c):
    """Marsaglia-Tsang's test of the attempt (x normal with 1 + cx > 0, u uniform): ``(accepted,
    d * v)``; the squeeze of :func:`_gamma_sure` first, the exact log test only when it fails."""
    v = 1.0 + c * x
    v = v * v * v
    k2, k4 = _gamma_squeeze(d, c)
    ok = _gamma_sure(x, u, c, k2, k4) or math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v))
    return ok, d * v


@nb.njit(cache=True)
def gamma_prepared(st, shape, d, c):
    """Gamma(shape, 1) with :func:`gamma_constants` computed once for the shape, as a simulation
    draws the same shapes millions of times: ``(g, new state)``."""
    if shape == 1.0:
        return exponential(st)
    boost = 1.0
    if shape < 1.0:
        b, st = uniform(st)
        boost = b ** (1.0 / shape)
    while True:
        x, st = normal(st)
        if 1.0 + c * x <= 0.0:
            continue
        u, st = uniform(st)
        ok, g = _gamma_accept(x, u, d, c)
        if ok:
            return g * boost, st


@nb.njit(cache=True, inline="always")
def gamma(st, shape):
    """Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 via Gamma(shape + 1) * U**(1/shape).
    Shape 1 (an equal split of ten lists at concentration 10, say) is the exponential.
    Returns ``(g, new state)``."""
    d, c = gamma_constants(shape)
    return gamma_prepared(st, shape, d, c)


@nb.njit(cache=True, error_model="numpy", inline="always")
def fill_exponential(st, out, n, pending, keep):
    """Fill out[0:n] with Exponential(1) draws (the :func:`exponential` ziggurat, in two passes
    as :func:`fill_normal`); returns the new state."""
    waiting = 0
    for j in range(n):
        bits, st = next_u64(st)
        i, u, out[j], sure = _exponential_try(bits)
        miss = not sure
        pending[j] = i if miss else -1
        keep[j] = u
        waiting += miss
    if waiting:
        for j in range(n):
            if pending[j] >= 0:
                ok, x, st = _exponential_rest(st, keep[j], pending[j])
                if not ok:  # rejected: a fresh draw
                    x, st = exponential(st)
                out[j] = x
    return st


@nb.njit(cache=True, error_model="numpy")
def fill_gamma(st, shape, d, c, out, n, pending, keep_a, keep_b):
    """Fill out[0:n] with Gamma(shape, 1) draws (constants from :func:`gamma_constants`); returns
    the new state. ``pending`` (int64), ``keep_a`` and ``keep_b`` (float64) are scratch, n long.

    Same samplers as :func:`gamma_prepared`, in two passes so that the common path has no calls
    and keeps the state in registers: the first pass makes every draw's first attempt and accepts
    it when the sure tests pass (about 99 % for the exponential and for large shapes); the second
    finishes the other attempts exactly where the scalar sampler would (the ziggurat's wedge or
    tail, the gamma's log test) and starts afresh only when the attempt is rejected, so every draw
    has exactly the sampler's distribution. Shapes below 1 are Gamma(shape + 1) times
    U ** (1 / shape) = exp(-E / shape), E exponential (Stuart 1962), all by blocks.
    """
    if shape < 1.0:
        st = _fill_gamma_from_one(st, shape + 1.0, d, c, out, n, pending, keep_a, keep_b)
        st = fill_exponential(st, keep_a, n, pending, keep_b)
        for j in range(n):
            keep_a[j] = -keep_a[j] / shape
        exp_block(keep_a, keep_b, n, pending.view(np.float64))
        for j in range(n):
            out[j] *= keep_b[j]
        return st
    return _fill_gamma_from_one(st, shape, d, c, out, n, pending, keep_a, keep_b)


@nb.njit(cache=True, error_model="numpy", inline="always")
def _fill_gamma_from_one(st, shape, d, c, out, n, pending, keep_a, keep_b):
    """:func:`fill_gamma` for a shape of at least 1."""
    if shape == 1.0:  # the exponential
        return fill_exponential(st, out, n, pending, keep_a)
    k2, k4 = _gamma_squeeze(d, c)
    waiting = 0
    for j in range(n):
        bits, st = next_u64(st)
        i, u, x, sure = _normal_try(bits)  # if not sure, the normal's attempt continues later
        v = 1.0 + c * x
        bits, st = next_u64(st)
        w = _unit(bits)
        ok = sure and _gamma_sure(x, w, c, k2, k4)
        out[j] = d * (v * v * v)
        # pending: -1 done; 0..127 the normal's layer (continue the normal); 128 continue the gamma
        pending[j] = -1 if ok else (128 if sure else i)
        keep_a[j] = u if not sure else x
        keep_b[j] = w
        waiting += not ok
    if waiting:
        for j in range(n):
            p = pending[j]
            if p < 0:
                continue
            ok = False
            g = 0.0
            x = keep_a[j]
            if p == 128:  # the normal was sure: finish the gamma test with its own uniform
                if 1.0 + c * x > 0.0:
                    ok, g = _gamma_accept(x, keep_b[j], d, c)
            else:  # finish the normal; the uniform drawn beside it was never used, draw a new one
                ok, x, st = _normal_rest(st, x, p)
                if ok and 1.0 + c * x > 0.0:
                    u, st = uniform(st)
                    ok, g = _gamma_accept(x, u, d, c)
                else:
                    ok = False
            if not ok:  # the attempt was rejected: a fresh draw
                g, st = gamma_prepared(st, shape, d, c)
            out[j] = g
    return st
