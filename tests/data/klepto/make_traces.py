# SPDX-License-Identifier: BSD-3-Clause
"""Record the random calls of four Python klepto test scripts, for the C
tests in tests/klepto/ that replay them.

Each script seeds Python's random generator and draws the arguments of
f(x, y) with random.choice from a domain of ints and floats; a C program
cannot draw the same numbers, so this records them.  Run it with Python
klepto (and pox) importable, from any folder (the scripts write their
archives into the current one):

    python3 make_traces.py OUTDIR

It writes OUTDIR/<script>.trace: one line per memoized function the
script makes, "<label> <n> i0 j0 i1 j1 ..." (label: cache/maxsize/archived,
or archive/keymap), where i, j index the domain
(0..n-1 the ints 0..n-1, n..2n-1 the floats 0.0..n-1.0), followed by the
statistics klepto reported for that function:
"# info hit miss load maxsize size" (maxsize -1 for None).
"""
import os
import sys
import tempfile

from klepto.tests import test_basic, test_cache_info, test_hdf


def record(module, run, outpath):
    lines = []
    current = []
    original_choice = module.choice
    original_test = module._test_cache if hasattr(module, "_test_cache") else module._test_hits

    def choice(domain):
        value = original_choice(domain)
        n = len(domain) // 2
        current.append(int(value) + (n if isinstance(value, float) else 0))
        current.append(n)
        return value

    def wrapped(algorithm, *args, **kwds):
        current.clear()
        f = original_test(algorithm, *args, **kwds)
        info = f if not callable(f) else f.info()
        n = current[1] if current else 0
        picks = current[0::2]
        if hasattr(algorithm, "__name__"):  # test_cache_info: a cache class
            label = "%s/%s/%s" % (algorithm.__name__, kwds.get("maxsize", "-"),
                                  "archived" if kwds.get("archived") else "plain")
        else:  # test_basic, test_hdf: an archive and a keymap
            km = args[0] if args else kwds.get("keymap")
            label = "%s/%s" % (type(algorithm.archive).__name__,
                               "None" if km is None else "%s(typed=%s,flat=%s)" % (
                                   type(km).__name__, km.typed, km.flat))
        lines.append("%s %d %s" % (label, n, " ".join(map(str, picks))))
        lines.append("# info %d %d %d %d %d" % (info.hit, info.miss, info.load,
                                                 -1 if info.maxsize is None else info.maxsize,
                                                 info.size))
        return f

    module.choice = choice
    if hasattr(module, "_test_cache"):
        module._test_cache = wrapped
    else:
        module._test_hits = wrapped
    try:
        run()
    finally:
        module.choice = original_choice
    with open(outpath, "w") as out:
        out.write("\n".join(lines) + "\n")


def main():
    outdir = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp()
    os.chdir(work)
    record(test_cache_info, test_cache_info.test_info,
           os.path.join(outdir, "test_cache_info.trace"))
    record(test_basic, test_basic.test_combinations,
           os.path.join(outdir, "test_basic.trace"))
    import h5py  # test_hdf imports it only when run as a script

    test_hdf.h5py = h5py
    record(test_hdf, test_hdf.test_combinations,
           os.path.join(outdir, "test_hdf.trace"))


if __name__ == "__main__":
    main()
