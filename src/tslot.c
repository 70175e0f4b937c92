/* Per-thread numbers (tslot.h). */
#include "tslot.h"

#include <pthread.h>
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
    slots_used &= ~(UINT64_C(1) << n);
    pthread_mutex_unlock(&slots_mx);
    kl__tslot_cached = 0;
}

static void slot_init(void) { (void)pthread_key_create(&slot_key, slot_release); }

int kl__thread_slot_slow(void)
{
    _Static_assert(KL_THREAD_SLOTS <= 64, "the numbers in use are one 64-bit mask");
    pthread_once(&slot_once, slot_init);
    int n = -1;
    pthread_mutex_lock(&slots_mx);
    if (~slots_used) {
        n = __builtin_ctzll(~slots_used);
        slots_used |= UINT64_C(1) << n;
    }
    pthread_mutex_unlock(&slots_mx);
    if (n >= 0 && pthread_setspecific(slot_key, (void *)(uintptr_t)(n + 1)) != 0) {
        slot_release((void *)(uintptr_t)(n + 1));
        n = -1;
    }
    kl__tslot_cached = n >= 0 ? n + 1 : -1;
    return n;
}
