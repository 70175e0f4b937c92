#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Generates tests/data/klepto-key-cases.txt: keys and cache hit counts
computed by Python klepto itself, for the cases issue #13 fixed: infinite
and NaN arguments under every rounding depth, chained keymaps, lone
integral floats as *args, bools beside ints, and stringmap encodings.

Each line is one Python literal (a dict), read by
tests/unit/test_key_cases.c with kl_parse:

  {'case': 'key', 'sig': 'x, *args', 'args': (...), 'kwargs': {...},
   'tol': None, 'rounding': 'simple', 'keymap': [spec, ...], 'key': KEY}
      KEY is what klepto's cache would use as the key of f(*args, **kwargs)
      (rounding, then klepto._inspect._keygen, then the keymap); keymap is
      one spec or several, chained as spec0 + spec1 + ... (left to right,
      as Python's + groups them).  A spec is (kind, option, typed, flat):
      kind 'keymap', 'hashmap', 'stringmap'; option the algorithm or
      encoding (None for the default).
  {'case': 'hits', 'sig': ..., 'keymap': [...], 'calls': [(args, kwargs),
   ...], 'hit': H, 'miss': M}
      klepto's inf_cache counts after making the calls in order.
  {'case': 'refused', 'keymap': [...], 'args': (...), 'error': NAME}
      klepto raises the exception NAME for that call.

It needs Python klepto and its dependencies (dill, pox) importable: run it
with klepto's source on PYTHONPATH, e.g.

  PYTHONPATH=<klepto source>:<pox source> python3 scripts/gen_klepto_keys.py \
      > tests/data/klepto-key-cases.txt
"""
import math

from klepto import inf_cache
from klepto._inspect import _keygen
from klepto.keymaps import hashmap, keymap, stringmap
from klepto.rounding import deep_round, shallow_round, simple_round

KINDS = {'keymap': keymap, 'hashmap': hashmap, 'stringmap': stringmap}
OPTION = {'hashmap': 'algorithm', 'stringmap': 'encoding'}
ROUNDERS = {'simple': simple_round, 'shallow': shallow_round, 'deep': deep_round}


def build(specs):
    km = None
    for kind, option, typed, flat in specs:
        kw = {'typed': typed, 'flat': flat}
        if option is not None:
            kw[OPTION[kind]] = option
        one = KINDS[kind](**kw)
        km = one if km is None else km + one
    return km


def make_function(sig):
    scope = {}
    exec('def f(%s):\n    return None\n' % sig, scope)
    return scope['f']


def klepto_key(sig, args, kwargs, tol, rounding, specs):
    f = make_function(sig)

    @ROUNDERS[rounding](tol)
    def rounded(*a, **k):
        return a, k

    a, k = rounded(*args, **kwargs)
    a, k = _keygen(f, (), *a, **k)
    return build(specs)(*a, **k)


def lit(v):
    """repr() that kl_parse reads back (floats: inf, nan as Python prints)."""
    return repr(v)


def emit(d):
    print('{' + ', '.join('%r: %s' % (k, lit(v)) for k, v in d.items()) + '}')


def key_case(sig, args, kwargs, tol, rounding, specs):
    key = klepto_key(sig, args, kwargs, tol, rounding, specs)
    emit({'case': 'key', 'sig': sig, 'args': tuple(args), 'kwargs': kwargs, 'tol': tol,
          'rounding': rounding, 'keymap': specs, 'key': key})


def hits_case(sig, specs, calls):
    f = make_function(sig)
    g = inf_cache(keymap=build(specs))(f)
    for a, k in calls:
        g(*a, **k)
    info = g.info()
    emit({'case': 'hits', 'sig': sig, 'keymap': specs, 'calls': calls,
          'hit': info.hit, 'miss': info.miss})


def refused_case(specs, args):
    try:
        build(specs)(*args)
    except Exception as e:  # the exception klepto raises is the datum
        emit({'case': 'refused', 'keymap': specs, 'args': tuple(args),
              'error': type(e).__name__})
        return
    raise SystemExit('expected klepto to refuse %r' % (specs,))


INF, NAN = math.inf, math.nan
STRING = [('stringmap', None, False, True)]
MD5 = [('hashmap', 'md5', False, True)]
RAW = [('keymap', None, False, True)]


def main():
    # infinite and NaN arguments under every rounding depth
    nonfinite = [
        ((INF,), {}), ((-INF,), {}), ((NAN,), {}),
        ((1.23456, INF), {}), ((2.5, [INF, 1.25, NAN]), {}),
        ((0.5,), {'k': {'a': -INF, 'b': [NAN, 3.14159]}}),
        ((NAN, (INF, 2.71828)), {'z': INF}),
    ]
    for rounding in ('simple', 'shallow', 'deep'):
        for tol in (None, 0, 1, 3, -1):
            for args, kwargs in nonfinite:
                for specs in (STRING, MD5):
                    key_case('x, *args, **kw', args, kwargs, tol, rounding, specs)
                    key_case('*args, **kw', args, kwargs, tol, rounding, specs)

    # chained keymaps (a + b: a is the inner keymap, b the outer)
    chains = [
        [('stringmap', None, False, True), ('hashmap', 'md5', False, True)],
        [('stringmap', None, False, True), ('hashmap', 'sha256', False, True)],
        [('hashmap', 'md5', False, True), ('stringmap', None, False, True)],
        [('stringmap', None, False, True), ('stringmap', None, False, True)],
        [('keymap', None, False, True), ('stringmap', None, False, True)],
        [('stringmap', None, True, True), ('hashmap', 'md5', False, True)],
        [('stringmap', None, False, False), ('hashmap', 'md5', False, True)],
        [('stringmap', None, False, True), ('hashmap', 'md5', False, False)],
        [('stringmap', 'repr', False, True), ('stringmap', 'utf-8', False, True)],
        [('hashmap', 'md5', False, True), ('stringmap', None, False, True),
         ('hashmap', 'sha256', False, True)],
    ]
    calls = [((1, 2), {}), (('a',), {}), ((), {}), ((1.0,), {}), ((True,), {}),
             ((1,), {'a': 2.5, 'y': 'b'}), ((None, b'\x00'), {})]
    # (names passed in sorted order: our non-flat keys list them sorted)
    for specs in chains:
        for args, kwargs in calls:
            key_case('*args, **kw', args, kwargs, None, 'simple', specs)
            if all(flat for _, _, _, flat in specs):
                # (klepto's non-flat keys keep its dict's order of names)
                key_case('x=0, *args, **kw', args, kwargs, None, 'simple', specs)

    # lone integral floats and bools as *args, bools beside ints
    lone = [((1,), {}), ((1.0,), {}), ((True,), {}), ((False,), {}), ((0,), {}),
            ((7.0,), {}), ((-0.0,), {}), ((1e16,), {}), ((2.5,), {}),
            ((True, 1), {}), ((1, True), {}), (([True, 1.0],), {}),
            ((), {'b': True}), ((), {'b': 1.0})]
    for specs in (RAW, STRING, MD5, [('stringmap', None, True, True)],
                  [('hashmap', 'md5', True, True)]):
        for args, kwargs in lone:
            key_case('*args, **kw', args, kwargs, None, 'simple', specs)
            key_case('x=None, *args, **kw', args, kwargs, None, 'simple', specs)
        for tol in (0, 1):
            for args, kwargs in lone[:9]:
                key_case('*args', args, kwargs, tol, 'simple', specs)

    for sig, seq in (
            ('x', [((1,), {}), ((True,), {}), ((1.0,), {})]),
            ('x', [((1.0,), {}), ((True,), {}), ((1,), {})]),
            ('x', [((0,), {}), ((False,), {}), ((-0.0,), {}), ((0.0,), {})]),
            ('*args', [((1,), {}), ((True,), {}), ((1.0,), {})]),
            ('*args', [((7.0,), {}), ((7,), {}), ((7.0,), {})]),
            ('*args', [((1, 2), {}), ((True, 2.0), {}), ((1.0, 2), {})]),
            ('x, y', [((1, 0), {}), ((True, False), {}), ((1.0, 0.0), {})]),
            ('**kw', [((), {'a': 1}), ((), {'a': True}), ((), {'a': 1.0})]),
            ('x', [(([1, 2],), {}), (([True, 2.0],), {})]),
    ):
        for specs in (RAW, [('hashmap', None, False, True)], STRING, MD5,
                      [('keymap', None, True, True)]):
            if seq[0][0] and isinstance(seq[0][0][0], list) and specs[0][1] is None and \
                    specs[0][0] != 'stringmap':
                continue  # lists are unhashable: klepto's raw and hash() keys refuse them
            hits_case(sig, specs, seq)

    # stringmap encodings: klepto's crypto.string()
    texts = [('abc',), (1, 2), ('é', 2.5), ('\u4e2d\U0001f600',), (None, b'\xff'), (True,)]
    for enc in ('utf-8', 'utf_8', 'UTF8', 'u8', 'utf_8_sig', 'utf-16', 'utf_16_le',
                'UTF-16BE', 'utf_32', 'utf-32-le', 'utf_32_be', 'latin_1', 'latin-1',
                'ISO-8859-1', 'l1', 'ascii', 'us-ascii', 'str', 'repr'):
        specs = [('stringmap', enc, False, True)]
        for args in texts:
            try:
                key_case('*args', args, {}, None, 'simple', specs)
            except UnicodeEncodeError:
                refused_case(specs, args)
    for enc in ('no-such-codec', 'rot_13', 'STR'):
        refused_case([('stringmap', enc, False, True)], ('abc',))


if __name__ == '__main__':
    main()
