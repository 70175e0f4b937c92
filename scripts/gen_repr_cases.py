#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Generates tests/data/repr_python.txt: one Python repr() per line, for
values of the kinds the codec renders (None, bools, ints in int64, floats,
str, bytes, lists, tuples, dicts), so the tests can require byte-exact
agreement with Python: parse(line) rendered again must give the line.

Run: python3 scripts/gen_repr_cases.py > tests/data/repr_python.txt
"""
import random
import struct
import sys

rnd = random.Random(20261125)

SPECIAL_CHARS = ['\'', '"', '\\', '\n', '\r', '\t', '\x00', '\x7f', '\x1b', ' ',
                 '\xa0', '\xad', '\xe9', '\xff', '\u0100', '\u2028', '\u200b',
                 '\u4e2d', '\ufeff', '\uffff', '\U0001f600', '\U000e0001',
                 '\U0010ffff', '\u0378', '\U0001d400', '\u0300']


def rstr():
    n = rnd.randint(0, 12)
    out = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.5:
            out.append(chr(rnd.randint(0x20, 0x7e)))
        elif r < 0.7:
            out.append(rnd.choice(SPECIAL_CHARS))
        elif r < 0.85:
            out.append(chr(rnd.randint(0x80, 0x2fff)))
        else:
            cp = rnd.randint(0x3000, 0x10ffff)
            if 0xd800 <= cp <= 0xdfff:
                cp = 0x1f600
            out.append(chr(cp))
    return ''.join(out)


def rbytes():
    n = rnd.randint(0, 10)
    pool = [rnd.randint(0, 255) for _ in range(n)]
    if rnd.random() < 0.5:
        pool += [ord(rnd.choice('\'"\\\n\r\ta'))]
    return bytes(pool)


def rfloat():
    r = rnd.random()
    if r < 0.2:
        return struct.unpack('<d', struct.pack('<Q', rnd.getrandbits(64)))[0]
    if r < 0.5:
        return round(rnd.uniform(-1e4, 1e4), rnd.randint(0, 6))
    if r < 0.7:
        return rnd.uniform(-1, 1) * 10 ** rnd.randint(-25, 25)
    if r < 0.8:
        return rnd.choice([0.0, -0.0, 1.0, 0.1, 1e16, 1e-05, 1e15, 123456789012345.0,
                           float('inf'), -float('inf'), 5e-324, 1e22, 1e-4, 2.5])
    return float(rnd.randint(-10 ** 17, 10 ** 17))


def rint():
    return rnd.choice([0, 1, -1, 23, 24, 255, 256, -24, -25, 65535, 65536, 2 ** 32,
                       2 ** 63 - 1, -2 ** 63, rnd.randint(-2 ** 63, 2 ** 63 - 1),
                       rnd.randint(-1000, 1000)])


def rkey(depth):
    r = rnd.random()
    if r < 0.5:
        return rstr()
    if r < 0.7:
        return rint()
    if r < 0.8:
        return rfloat()
    if r < 0.9:
        return rbytes()
    return tuple(rkey(depth + 1) for _ in range(rnd.randint(0, 3)))


def rvalue(depth=0):
    r = rnd.random()
    if depth > 3:
        r = r * 0.6
    if r < 0.05:
        return None
    if r < 0.1:
        return rnd.random() < 0.5
    if r < 0.2:
        return rint()
    if r < 0.35:
        return rfloat()
    if r < 0.5:
        return rstr()
    if r < 0.6:
        return rbytes()
    if r < 0.7:
        return [rvalue(depth + 1) for _ in range(rnd.randint(0, 4))]
    if r < 0.85:
        return tuple(rvalue(depth + 1) for _ in range(rnd.randint(0, 4)))
    return {rkey(depth + 1): rvalue(depth + 1) for _ in range(rnd.randint(0, 4))}


seen = set()
for _ in range(3000):
    v = rvalue()
    if isinstance(v, float) and v != v:
        continue
    s = repr(v)
    if 'nan' in s:
        continue
    if s not in seen:
        seen.add(s)
        sys.stdout.write(s + '\n')
