"""The data order of a stacked copy: a permutation per (seed, epoch), the same on every backend."""

import math

import numpy as np
from keras import ops

# Multipliers of MurmurHash3's 32-bit finalizer (fmix32), and two odd constants to
# combine the seed, the epoch and the example index; all as signed int32 values,
# since int32 products wrap modulo 2**32 on TensorFlow, XLA and numpy alike.
_C1, _C2, _C3 = 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D
_F1, _F2 = 0x85EBCA6B, 0xC2B2AE35


def _signed(c):
    return c - (1 << 32) if c >= 1 << 31 else c


def _bits(n):
    return max(1, math.ceil(math.log2(max(n, 2))))


def epoch_order(seed, epoch, n):
    """The order in which a copy with ``seed`` visits ``n`` training examples in ``epoch``.

    ```
    h_i   = fmix32(seed * c1 + epoch * c2 + i * c3)          (mod 2**32)
    key_i = (h_i with its low b bits cleared) + i            b = ceil(log2 n)
    order = argsort(key)
    ```

    ``fmix32`` is MurmurHash3's 32-bit finalizer (``h ^= h >> 16; h *= 0x85ebca6b;
    h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16``, logical shifts) and
    ``c1, c2, c3 = 0x9e3779b1, 0x85ebca77, 0xc2b2ae3d``.  The keys are distinct,
    so the order does not depend on how a backend sorts ties.  This numpy
    function is the definition; ``kerasreg.stacked.fit`` computes the same
    permutation inside its compiled program.

    Args:
        seed: int, the copy's seed.
        epoch: int >= 0, the epoch (0 for the first).
        n: int >= 1, the number of training examples.

    Returns:
        An int array of shape ``(n,)``, a permutation of ``range(n)``.
    """
    with np.errstate(over="ignore"):
        i = np.arange(n, dtype=np.int32)
        s = np.int32(_signed(int(seed) % (1 << 32)))
        h = (np.int32(_signed(_C1)) * s + np.int32(_signed(_C2)) * np.int32(epoch)
             + np.int32(_signed(_C3)) * i).astype(np.int32)
        h = h ^ ((h >> 16) & 0xFFFF)
        h = (h * np.int32(_signed(_F1))).astype(np.int32)
        h = h ^ ((h >> 13) & 0x7FFFF)
        h = (h * np.int32(_signed(_F2))).astype(np.int32)
        h = h ^ ((h >> 16) & 0xFFFF)
    b = _bits(n)
    key = (h & np.int32(~((1 << b) - 1))) | i
    return np.argsort(key, kind="stable")


def epoch_order_tensor(seeds, epoch, n):
    """``epoch_order`` for a batch of seeds, in ``keras.ops``: an int32 tensor ``(len(seeds), n)``.

    ``seeds`` is an int32 tensor ``(K,)`` (each seed taken modulo 2**32 as a
    signed int32), ``epoch`` an int32 scalar tensor.
    """
    i = ops.arange(n, dtype="int32")[None, :]
    seeds = ops.cast(seeds, "int32")[:, None]
    epoch = ops.cast(epoch, "int32")

    def mul(a, c):
        return ops.multiply(a, ops.cast(_signed(c), "int32"))

    def shr(a, s):
        return ops.bitwise_and(ops.right_shift(a, s), (1 << (32 - s)) - 1)

    h = mul(seeds, _C1) + mul(epoch, _C2) + mul(i, _C3)
    h = ops.bitwise_xor(h, shr(h, 16))
    h = mul(h, _F1)
    h = ops.bitwise_xor(h, shr(h, 13))
    h = mul(h, _F2)
    h = ops.bitwise_xor(h, shr(h, 16))
    b = _bits(n)
    key = ops.bitwise_or(ops.bitwise_and(h, ops.cast(~((1 << b) - 1), "int32")), i)
    return ops.cast(ops.argsort(key, axis=-1), "int32")
