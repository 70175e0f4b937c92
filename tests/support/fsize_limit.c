/* SPDX-License-Identifier: BSD-3-Clause */
/* See fsize_limit.h. */
#include "fsize_limit.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static struct rlimit saved;
static struct sigaction saved_sig;

void kt_fsize_limit(uint64_t bytes)
{
    struct sigaction ign = {.sa_handler = SIG_IGN};
    struct rlimit lim;
    if (getrlimit(RLIMIT_FSIZE, &saved) || sigaction(SIGXFSZ, &ign, &saved_sig)) {
        perror("kt_fsize_limit");
        abort();
    }
    lim = saved;
    lim.rlim_cur = (rlim_t)bytes;
    if (setrlimit(RLIMIT_FSIZE, &lim)) {
        perror("kt_fsize_limit");
        abort();
    }
}

void kt_fsize_unlimit(void)
{
    if (setrlimit(RLIMIT_FSIZE, &saved) || sigaction(SIGXFSZ, &saved_sig, NULL)) {
        perror("kt_fsize_unlimit");
        abort();
    }
}
