/* SPDX-License-Identifier: BSD-3-Clause */
/* Reading a policy's lock-free hints whatever version its struct was
 * written for (hints.c): version 4 has them behind `hints`, versions 2 and
 * 3 had them inline, version 1 has none. */
#ifndef KLEPTO_POLICY_HINTS_H
#define KLEPTO_POLICY_HINTS_H

#include "klepto/sys/policy.h"

/* The hints of ops into *out (all false/0 when it has none). */
void kl__policy_hints_of(const kl_policy_ops *ops, kl_policy_hints *out);

#endif
