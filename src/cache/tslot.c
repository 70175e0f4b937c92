/* Per-thread numbers (tslot.h). */
#include "cache/tslot.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

_Thread_local int kl__tslot_cached __attribute__((tls_model("initial-exec")));

static pthread_mutex_t slots_mx = PTHREAD_MUTEX_INITIALIZER;
static uint64_t slots_used; /* bit i: number i is held */
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

/* At thread exit: give the number back. */
static void slot_release(void *p)
{
    unsigned n = (unsigned)(uintptr_t)p - 1;
    pthread_mutex_lock(&slots_mx);
    __atomic_and_fetch(&slots_used, ~(UINT64_C(1) << n), __ATOMIC_RELEASE);
    pthread_mutex_unlock(&slots_mx);
    kl__tslot_cached = 0;
}

/* In the child of fork(): only the thread that forked lives on, so only
 * its number is still held (the others' threads are gone). */
static void slot_after_fork(void)
{
    int s = kl__tslot_cached;
    pthread_mutex_init(&slots_mx, NULL);
    __atomic_store_n(&slots_used, s > 0 ? UINT64_C(1) << (s - 1) : 0, __ATOMIC_RELEASE);
}

static void slot_init(void)
{
    (void)pthread_key_create(&slot_key, slot_release);
    (void)pthread_atfork(NULL, NULL, slot_after_fork);
}

bool kl__thread_slot_held(int n)
{
    return (__atomic_load_n(&slots_used, __ATOMIC_ACQUIRE) >> n) & 1;
}

int kl__thread_slot_slow(void)
{
    _Static_assert(KL_THREAD_SLOTS <= 64, "the numbers in use are one 64-bit mask");
    pthread_once(&slot_once, slot_init);
    int n = -1;
    pthread_mutex_lock(&slots_mx);
    uint64_t used = __atomic_load_n(&slots_used, __ATOMIC_RELAXED);
    if (~used) {
        n = __builtin_ctzll(~used);
        __atomic_or_fetch(&slots_used, UINT64_C(1) << n, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&slots_mx);
    if (n >= 0 && pthread_setspecific(slot_key, (void *)(uintptr_t)(n + 1)) != 0) {
        slot_release((void *)(uintptr_t)(n + 1));
        n = -1;
    }
    kl__tslot_cached = n >= 0 ? n + 1 : -1;
    return n;
}
