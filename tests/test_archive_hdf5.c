#include "archive_suite.h"
#include "testutil.h"
#include "klepto/archive.h"
#include <stdio.h>
#include <stdlib.h>
static char *tmp;
static void c1(void **st){(void)st;char u[600];snprintf(u,sizeof u,"hdf5dir:%s/d",tmp);kt_archive_suite(u,KT_ARCH_PERSISTENT|KT_ARCH_DROP|KT_ARCH_MAPPED);}
static void c2(void **st){(void)st;char u[600];snprintf(u,sizeof u,"hdf5:%s/f.h5",tmp);kt_archive_suite(u,KT_ARCH_PERSISTENT|KT_ARCH_DROP|KT_ARCH_MAPPED);}
int main(void){tmp=kt_tmpdir("h5");const struct CMUnitTest t[]={cmocka_unit_test(c1),cmocka_unit_test(c2)};int rc=cmocka_run_group_tests(t,NULL,NULL);kt_rmrf(tmp);free(tmp);return rc;}
