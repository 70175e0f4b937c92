/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * klepto/export.h — KL_API marks the functions the shared library exports.
 *
 * The library is built with -fvisibility=hidden: a function is visible to
 * programs only when its declaration under include/ carries KL_API.
 * Everything else (the kl__ names) stays inside the library.
 */
#ifndef KLEPTO_EXPORT_H
#define KLEPTO_EXPORT_H

#if defined(_WIN32) && defined(KLEPTO_BUILDING)
#define KL_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define KL_API __attribute__((visibility("default")))
#else
#define KL_API
#endif

#endif
