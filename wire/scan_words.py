"""Word-at-a-time primitives of the byte scanner (andon.wire.json_scan): unaligned 8-byte loads, trailing-zero
counts, libc's strtod, the digit, stop and equality tests on 8-byte words, the name hash; and the constants they use.
Each bit trick carries its derivation."""

from __future__ import annotations

import ctypes
import math
import os
import platform
import sys

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_U = np.uint64
_PRIME = _U(0x100000001B3)
_ONES = _U(0x0101010101010101)
_HIGH = _U(0x8080808080808080)
_LOW7 = _U(0x7F7F7F7F7F7F7F7F)
_NIBBLE_LO = _U(0x0F0F0F0F0F0F0F0F)
_NIBBLE_HI = _U(0xF0F0F0F0F0F0F0F0)
_ZEROS = _U(0x3030303030303030)  # "00000000"
_SIXES = _U(0x0606060606060606)
_QUOTES = _U(0x2222222222222222)
_SLASHES = _U(0x5C5C5C5C5C5C5C5C)
_SPACES = _U(0x2020202020202020)
_MAX_MANTISSA = 2**53
_MAX_DIGITS = 18  # below 2**63: a mantissa never overflows an int64
_P10 = np.array([float(10**k) for k in range(23)])  # exact doubles
_P10_INT = np.array([10**k for k in range(9)], np.int64)
_PAD = bytes(16)  # after the batch and every name table: loads of 8 bytes (two at once) never leave the buffer
_GUESSES = 64  # key turns per message whose key is remembered from the previous message
_TOP_KEYS = [b"site", b"machine", b"ts", b"seq", b"signals"]
_UNKNOWN_KEYS = 16  # unknown keys a message may have and still be scanned (their hashes are compared pairwise)

# what a key means
_UNKNOWN, _SITE, _MACHINE, _TS, _SEQ, _SIGNALS, _KNOWN_SIGNAL = 0, 1, 2, 3, 4, 5, 6

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@intrinsic
def _load8(typingctx, arr, idx):
    """The 8 bytes at arr[idx:idx+8] as a little-endian uint64 (an unaligned load; the caller keeps it in bounds)."""
    sig = types.uint64(arr, types.intp)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), ir.IntType(64).as_pointer())
        return builder.load(ptr, align=1)

    return sig, codegen


@intrinsic
def _cttz(typingctx, x):
    """Count of trailing zero bits (64 for 0)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]),
                                            "llvm.cttz.i64")
        return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 0)])

    return sig, codegen


@intrinsic
def _strtod(typingctx, arr, start, stop):
    """libc ``strtod`` of the bytes from arr[start]; NaN unless it read exactly the bytes up to arr[stop].

    The caller has validated a JSON number there, followed (before the buffer's end) by a byte no number goes on
    with. The symbol is resolved from the process (libc is loaded), also when the function comes from numba's cache.
    """
    sig = types.float64(arr, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.DoubleType(), [i8p, i8p.as_pointer()]),
                                            "strtod")
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        data = builder.bitcast(ary.data, i8p)
        stop = cgutils.alloca_once(builder, i8p)
        value = builder.call(fn, [builder.gep(data, [args[1]]), stop])
        read_all = builder.icmp_unsigned("==", builder.load(stop), builder.gep(data, [args[2]]))
        return builder.select(read_all, value, ir.Constant(ir.DoubleType(), math.nan))

    return sig, codegen


def _strtod_is_correct() -> bool:
    """True where libc's strtod rounds correctly (glibc) and reads JSON numbers (a "." decimal point: LC_NUMERIC)."""
    try:
        if (sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64")
                or not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")):
            return False
        strtod = ctypes.CDLL(None).strtod
        strtod.restype = ctypes.c_double
        strtod.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        return (strtod(b"0.5", None) == 0.5 and strtod(b"1e3", None) == 1000.0
                and strtod(b"1204.7387681128703", None) == 1204.7387681128703
                and strtod(b"2.2250738585072011e-308", None) == 2.2250738585072011e-308)
    except (OSError, AttributeError, ValueError):
        return False


#: libc's strtod converts the numbers outside the exact fast path (else such a number makes its message fall back)
CORRECT_STRTOD = _strtod_is_correct()


@njit(cache=True)
def _same8(x, y, r):
    """The first min(r, 8) bytes of two words are equal."""
    if r >= 8:
        return x == y
    return ((x ^ y) << _U(64 - 8 * r)) == _U(0)


@njit(cache=True)
def _digits(x):
    """How many of the word's bytes, from the first, are ASCII digits (0 to 8).

    Flags: a byte below "0" borrows, above "9" carries into its high bit, non-ASCII has it; borrows and carries only
    flag bytes above a true flag, so the lowest flag is exact.
    """
    flags = ((x - _ZEROS) | (x + _U(0x4646464646464646)) | x) & _HIGH
    return np.int64(_cttz(flags) >> _U(3))


@njit(cache=True)
def _parse8(x, n):
    """The value of the first n (1 to 8) bytes of the word, all ASCII digits."""
    v = (x & _NIBBLE_LO) << _U(8 * (8 - n))
    v = (v * _U(2561)) >> _U(8)
    v = ((v & _U(0x00FF00FF00FF00FF)) * _U(6553601)) >> _U(16)
    v = ((v & _U(0x0000FFFF0000FFFF)) * _U(42949672960001)) >> _U(32)
    return np.int64(v)


@njit(cache=True)
def _stops(x):
    """Flags (high bit of a byte) where a string scan must look: a quote, a backslash, a control or a non-ASCII byte.

    The lowest flag is exact (the borrows of the zero-byte test only flag bytes above a true one).
    """
    q = x ^ _QUOTES
    b = x ^ _SLASHES
    return (((q - _ONES) & ~q) | ((b - _ONES) & ~b) | ((x - _SPACES) & ~x) | x) & _HIGH


@njit(cache=True)
def _mix(length, first, second, middle, before_last, last, salt):
    """A cheap hash of a name from its length and five of its bytes (collisions are resolved by comparing bytes)."""
    h = _U(length) ^ _U(salt)
    h = (h ^ _U(first)) * _PRIME
    h = (h ^ _U(second)) * _PRIME
    h = (h ^ _U(middle)) * _PRIME
    h = (h ^ _U(before_last)) * _PRIME
    h = (h ^ _U(last)) * _PRIME
    h = (h ^ _U(salt)) * _PRIME
    return h ^ (h >> _U(32))


def name_hash(name: bytes, salt: int) -> int:
    """The scanner's hash of a non-empty `name`, as the scan computes it from the message bytes."""
    n = len(name)
    return int(_mix(n, name[0], name[min(1, n - 1)], name[n // 2], name[max(n - 2, 0)], name[n - 1], salt))
