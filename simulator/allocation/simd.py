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
callers keep every index in range.
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


def _index(context, builder, value, valtype, offset=0):
    v = context.cast(builder, value, valtype, types.intp)
    return builder.add(v, ir.Constant(v.type, offset)) if offset else v


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


@intrinsic
def tile_in(typingctx, votes, r, i, dst, c):
    """``dst[i + k, c + j] = float32(votes[r + j, i + k])`` for j, k in 0..3."""
    if not (_is_2d(votes, types.float64) and _is_2d(dst, types.float32)):
        return None
    sig = types.void(votes, r, i, dst, c)

    def codegen(context, builder, signature, args):
        vt, rt, it, dt, ct = signature.args
        votes_, r_, i_, dst_, c_ = args
        f64x4 = ir.VectorType(ir.DoubleType(), 4)
        f32x4 = ir.VectorType(ir.FloatType(), 4)
        col = _index(context, builder, i_, it)
        rows = []
        i8 = ir.IntType(8)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8.as_pointer(), _I32, _I32, _I32]),
            "llvm.prefetch.p0")
        for j in range(4):
            p = _pointer(context, builder, vt, votes_, _index(context, builder, r_, rt, j), col,
                         f64x4)
            rows.append(builder.fptrunc(builder.load(p, align=8), f32x4))
            ahead = builder.gep(builder.bitcast(p, i8.as_pointer()),
                                [ir.Constant(ir.IntType(64), _AHEAD)])
            builder.call(prefetch, [ahead, ir.Constant(_I32, 0), ir.Constant(_I32, 3),
                                    ir.Constant(_I32, 1)])
        c0 = _index(context, builder, c_, ct)
        for k, v in enumerate(_transpose(builder, rows)):
            p = _pointer(context, builder, dt, dst_, _index(context, builder, i_, it, k), c0, f32x4)
            builder.store(v, p, align=4)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def tile_out(typingctx, sb, i, c, out, r):
    """``out[r + j, i + k] = int32(sb[i + k, c + j])`` for j, k in 0..3 (sb holds whole numbers)."""
    if not (_is_2d(sb, types.float32) and _is_2d(out, types.int32)):
        return None
    sig = types.void(sb, i, c, out, r)

    def codegen(context, builder, signature, args):
        st, it, ct, ot, rt = signature.args
        sb_, i_, c_, out_, r_ = args
        f32x4 = ir.VectorType(ir.FloatType(), 4)
        i32x4 = ir.VectorType(_I32, 4)
        c0 = _index(context, builder, c_, ct)
        cols = []
        for k in range(4):
            p = _pointer(context, builder, st, sb_, _index(context, builder, i_, it, k), c0, f32x4)
            cols.append(builder.fptosi(builder.load(p, align=4), i32x4))
        col = _index(context, builder, i_, it)
        for j, v in enumerate(_transpose(builder, cols)):
            p = _pointer(context, builder, ot, out_, _index(context, builder, r_, rt, j), col, i32x4)
            builder.store(v, p, align=4)
        return context.get_dummy_value()

    return sig, codegen
