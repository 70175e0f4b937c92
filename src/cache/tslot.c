/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-thread state (tslot.h). */
#include "cache/tslot.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

_Thread_local kl__thread kl__self __attribute__((tls_model("initial-exec")));

static pthread_mutex_t slots_mx = PTHREAD_MUTEX_INITIALIZER;
static uint64_t slots_used; /* bit i: number i is held */
static pthread_key_t self_key;
static bool self_key_ok;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void slot_release(int n)
{
    pthread_mutex_lock(&slots_mx);
    __atomic_and_fetch(&slots_used, ~(UINT64_C(1) << n), __ATOMIC_RELEASE);
    pthread_mutex_unlock(&slots_mx);
}

/* At thread exit: give the number back and free the scratch buffer.  (Code
 * that runs later in the exiting thread starts a fresh record.) */
static void self_release(void *p)
{
    (void)p;
    if (kl__self.slot > 0)
        slot_release(kl__self.slot - 1);
    kl_buf_free(&kl__self.scratch);
    kl__self = (kl__thread){0, false, KL_BUF_INIT};
}

/* In the child of fork(): only the thread that forked lives on, so only
 * its number is still held (the others' threads are gone). */
static void slot_after_fork(void)
{
    int s = kl__self.slot;
    pthread_mutex_init(&slots_mx, NULL);
    __atomic_store_n(&slots_used, s > 0 ? UINT64_C(1) << (s - 1) : 0, __ATOMIC_RELEASE);
}

static void self_init(void)
{
    self_key_ok = pthread_key_create(&self_key, self_release) == 0;
    (void)pthread_atfork(NULL, NULL, slot_after_fork);
}

/* Set the exit hook for this thread's record: whether it is set. */
static bool self_register(void)
{
    if (kl__self.registered)
        return true;
    pthread_once(&self_once, self_init);
    if (!self_key_ok || pthread_setspecific(self_key, &kl__self) != 0)
        return false;
    kl__self.registered = true;
    return true;
}

bool kl__thread_slot_held(int n)
{
    return (__atomic_load_n(&slots_used, __ATOMIC_ACQUIRE) >> n) & 1;
}

int kl__thread_slot_slow(void)
{
    _Static_assert(KL_THREAD_SLOTS <= 64, "the numbers in use are one 64-bit mask");
    if (!self_register()) { /* a number could not be given back at exit */
        kl__self.slot = -1;
        return -1;
    }
    int n = -1;
    pthread_mutex_lock(&slots_mx);
    uint64_t used = __atomic_load_n(&slots_used, __ATOMIC_RELAXED);
    if (~used) {
        n = __builtin_ctzll(~used);
        __atomic_or_fetch(&slots_used, UINT64_C(1) << n, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&slots_mx);
    kl__self.slot = n >= 0 ? n + 1 : -1;
    return n;
}

kl_buf *kl__thread_scratch_slow(void)
{
    return self_register() ? &kl__self.scratch : NULL;
}
