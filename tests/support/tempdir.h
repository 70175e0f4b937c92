/* SPDX-License-Identifier: BSD-3-Clause */
/* Temporary folders for the tests: one fresh folder per test program (or
 * per test), removed with everything in it at the end. */
#ifndef KLEPTO_TEST_TEMPDIR_H
#define KLEPTO_TEST_TEMPDIR_H

/* A fresh temporary folder (mkdtemp under $TMPDIR or /tmp, named after
 * tag); the returned string is heap-allocated; remove it with kt_rmrf,
 * then free it.  NULL on failure. */
char *kt_tmpdir(const char *tag);
/* Remove a file or folder tree; ignores missing paths and NULL. */
void kt_rmrf(const char *path);

/* The fixture most test programs share, for cmocka group setup and
 * teardown functions:
 *
 *     static char *dir;
 *     static int setup(void **st) { (void)st; return kt_tempdir_make(&dir, "tag"); }
 *     static int teardown(void **st) { (void)st; kt_tempdir_remove(&dir); return 0; }
 *
 * kt_tempdir_make sets *dir to a fresh folder (kt_tmpdir) and returns 0,
 * or -1 when none could be made; kt_tempdir_remove removes the folder and
 * everything in it, frees the path and sets *dir to NULL. */
int kt_tempdir_make(char **dir, const char *tag);
void kt_tempdir_remove(char **dir);

/* Points $TMPDIR at /dev/shm (memory) when $TMPDIR is unset and /dev/shm
 * is writable, so that later kt_tmpdir folders spare the disk; programs
 * that write a lot call it first thing. */
void kt_tempdir_prefer_memory(void);

#endif
