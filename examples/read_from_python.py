# SPDX-License-Identifier: BSD-3-Clause
"""Read a sqlite: archive of klepto for C from Python: sqlite3 + cbor2.

    python3 read_from_python.py RESULTS.DB TABLE

(write_for_python.c writes RESULTS.DB with the table `rosen`.)  Needs only
the standard library and cbor2 (Debian: python3-cbor2; pip: cbor2).

The table of `sqlite:PATH?table=T` has a row per entry; the columns `key`
and `value` hold canonical CBOR.  A memo's key lists the arguments by
name, in name order: [name, value, name, value, ...].  A float that holds
an integer is stored as that integer (1.0 as 1), as Python's dict treats
1.0 and 1 as one key.
"""
import sqlite3
import sys

import cbor2


def main(path, table):
    # Read-only: the archive may be in use by C programs at the same time.
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    rows = []
    for key, value in db.execute('SELECT key, value FROM "%s"' % table.replace('"', '""')):
        k = cbor2.loads(key)
        args = ", ".join("%s=%r" % (k[i], k[i + 1]) for i in range(0, len(k), 2))
        rows.append("%s(%s) = %r" % (table, args, cbor2.loads(value)))
    db.close()
    for row in sorted(rows):
        print(row)
    print("%d rows" % len(rows))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: read_from_python.py RESULTS.DB TABLE")
    main(sys.argv[1], sys.argv[2])
