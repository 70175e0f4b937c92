/* SPDX-License-Identifier: BSD-3-Clause */
/* Which sanitizer the test was built with (gcc says __SANITIZE_*__, clang
 * __has_feature): KT_ASAN and KT_TSAN are 1 or 0, for tests that shorten
 * their rounds under a sanitizer or read its exit status. */
#ifndef KLEPTO_TEST_SANITIZERS_H
#define KLEPTO_TEST_SANITIZERS_H

#if defined(__SANITIZE_ADDRESS__)
#define KT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KT_ASAN 1
#endif
#endif
#ifndef KT_ASAN
#define KT_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#define KT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KT_TSAN 1
#endif
#endif
#ifndef KT_TSAN
#define KT_TSAN 0
#endif

#endif
