"""4 x 4 block transposes written as LLVM vector code, for the block kernel's way in and out.

The block kernel works on elections laid out lists x elections, while batches come in (and go out)
elections x lists. Element by element, turning one layout into the other costs a load and a store
per number, and the compiler does not see that four rows can be loaded as vectors and shuffled.
These two helpers, numba intrinsics that emit the LLVM vector code by hand, move a 4 x 4 tile with
four vector loads, eight shuffles and four vector stores:

* :func:`tile_in` reads ``votes[r:r+4, i:i+4]`` (float64) into ``dst[i:i+4, c:c+4]`` as float32;
* :func:`tile_out` writes ``sb[i:i+4, c:c+4]`` (float32 seat counts) to ``out[r:r+4, i:i+4]`` as
  int32.

Both need C-contiguous arrays (they refuse others when compiled) and do no bounds checks: the
callers keep every index in range. :func:`tile_in` also asks for the cache lines 2 KB past each
row it reads (a hint that made batches about 7 % faster on this machine's 2 threads).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_I32 = ir.IntType(32)
_AHEAD = 2048  # bytes: tile_in prefetches this far ahead of each row it reads
# Shuffle masks of a 4 x 4 transpose: interleave row pairs, then join the halves.
_LO = ir.Constant(ir.VectorType(_I32, 4), [0, 4, 1, 5])
_HI = ir.Constant(ir.VectorType(_I32, 4), [2, 6, 3, 7])
_FRONT = ir.Constant(ir.VectorType(_I32, 4), [0, 1, 4, 5])
_BACK = ir.Constant(ir.VectorType(_I32, 4), [2, 3, 6, 7])


def _pointer(context, builder, arytype, ary, row, col, vectype):
    """Pointer to ``ary[row, col]`` as a pointer to ``vectype``."""
    a = context.make_array(arytype)(context, builder, ary)
    shape = cgutils.unpack_tuple(builder, a.shape, 2)
    strides = cgutils.unpack_tuple(builder, a.strides, 2)
    p = cgutils.get_item_pointer2(context, builder, a.data, shape, strides, arytype.layout,
                                  [row, col])
    return builder.bitcast(p, vectype.as_pointer())


def _index(context, builder, value, valtype):
    """An index argument as an intp value."""
    return context.cast(builder, value, valtype, types.intp)


def _transpose(builder, rows):
    """Columns of the 4 x 4 tile whose rows are the four 4-vectors ``rows``."""
    t0 = builder.shuffle_vector(rows[0], rows[1], _LO)
    t1 = builder.shuffle_vector(rows[0], rows[1], _HI)
    t2 = builder.shuffle_vector(rows[2], rows[3], _LO)
    t3 = builder.shuffle_vector(rows[2], rows[3], _HI)
    return [builder.shuffle_vector(t0, t2, _FRONT), builder.shuffle_vector(t0, t2, _BACK),
            builder.shuffle_vector(t1, t3, _FRONT), builder.shuffle_vector(t1, t3, _BACK)]


def _is_2d(ary, dtype):
    return isinstance(ary, types.Array) and ary.ndim == 2 and ary.layout == "C" and ary.dtype == dtype


def _move_tile(context, builder, src, src_at, dst, dst_at, convert, ahead=0):
    """``dst[c + k, d + j] = convert(src[a + j, b + k])`` for j, k in 0..3, where ``src_at`` is
    (a, b) and ``dst_at`` is (c, d) as intp values and ``src``, ``dst`` are (type, value) pairs.
    With ``ahead`` > 0, also prefetch that many bytes beyond each source row read."""
    (st, sv), (dt, dv) = src, dst
    load = ir.VectorType(context.get_value_type(st.dtype), 4)
    store = ir.VectorType(context.get_value_type(dt.dtype), 4)
    i8p = ir.IntType(8).as_pointer()
    vecs = []
    for j in range(4):
        row = builder.add(src_at[0], ir.Constant(src_at[0].type, j))
        p = _pointer(context, builder, st, sv, row, src_at[1], load)
        vecs.append(convert(builder.load(p, align=st.dtype.bitwidth // 8), store))
        if ahead:
            prefetch = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [i8p, _I32, _I32, _I32]),
                "llvm.prefetch.p0")
            target = builder.gep(builder.bitcast(p, i8p), [ir.Constant(ir.IntType(64), ahead)])
            builder.call(prefetch, [target, ir.Constant(_I32, 0), ir.Constant(_I32, 3),
                                    ir.Constant(_I32, 1)])  # read, keep in all caches, data
    for k, v in enumerate(_transpose(builder, vecs)):
        row = builder.add(dst_at[0], ir.Constant(dst_at[0].type, k))
        builder.store(v, _pointer(context, builder, dt, dv, row, dst_at[1], store),
                      align=dt.dtype.bitwidth // 8)
    return context.get_dummy_value()


@intrinsic
def tile_in(typingctx, votes, r, i, dst, c):
    """``dst[i + k, c + j] = float32(votes[r + j, i + k])`` for j, k in 0..3."""
    if not (_is_2d(votes, types.float64) and _is_2d(dst, types.float32)):
        return None

    def codegen(context, builder, signature, args):
        at = signature.args
        r_, i_, c_ = (_index(context, builder, args[k], at[k]) for k in (1, 2, 4))
        return _move_tile(context, builder, (at[0], args[0]), (r_, i_), (at[3], args[3]), (i_, c_),
                          builder.fptrunc, ahead=_AHEAD)

    return types.void(votes, r, i, dst, c), codegen


@intrinsic
def tile_out(typingctx, sb, i, c, out, r):
    """``out[r + j, i + k] = int32(sb[i + k, c + j])`` for j, k in 0..3 (sb holds whole numbers)."""
    if not (_is_2d(sb, types.float32) and _is_2d(out, types.int32)):
        return None

    def codegen(context, builder, signature, args):
        at = signature.args
        i_, c_, r_ = (_index(context, builder, args[k], at[k]) for k in (1, 2, 4))
        return _move_tile(context, builder, (at[0], args[0]), (i_, c_), (at[3], args[3]), (r_, i_),
                          builder.fptosi)

    return types.void(sb, i, c, out, r), codegen
