/* Keeps the test-support library non-empty. */
typedef int kl_testsupport_empty;
