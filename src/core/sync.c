/*
 * sync.c - what every txsync/rxsync shares: the validation ("prologue") of
 * the user's head/cur, ring reinitialisation, the per-ring busy flag, and
 * the wake-up protocol between a producer and a sleeping consumer.
 *
 * Wake-up protocol (per kernel ring, `armed` bitmask + `waiter` table):
 *
 *   sleeper                            producer
 *   -------                            --------
 *   armed |= my bit       (W1)         publish index (release)   (P1)
 *   full fence                         full fence
 *   re-run the sync; ready? -> go      if (armed) { armed = 0;    (P2)
 *   poll(my FIFO)                          write a byte to each
 *                                          armed waiter's FIFO }
 *
 * With both fences, either the sleeper's re-check sees P1 or the producer
 * sees W1, so no wake-up is lost; and the busy producer pays one fence and
 * one load of a cache line that nobody writes while nobody sleeps.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/time.h>
#include "core/unm.h"

static uint32_t my_pid;
uint64_t unm_stat_polls, unm_stat_sleeps, unm_stat_wakeups;

static void atfork_child(void)
{
	my_pid = (uint32_t)getpid();
}

static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
	my_pid = (uint32_t)getpid();
}

uint32_t unm_self_pid(void)
{
	pthread_once(&pid_once, pid_init);
	return __atomic_load_n(&my_pid, __ATOMIC_RELAXED);
}

/* Enter a ring's sync.  Two threads syncing one ring at once: the second
 * skips (as netmap's busy flag does).  A holder that died mid-sync (kill -9)
 * must not stall the ring forever, so a busy flag naming a dead process is
 * taken over. */
bool unm_busy_enter(struct unm_kring *kr)
{
	uint32_t me = unm_self_pid(), exp = 0;
	if (__atomic_compare_exchange_n(&kr->busy, &exp, me, false,
					__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return true;
	if (exp != me && !unm_pid_alive((pid_t)exp))
		return __atomic_compare_exchange_n(&kr->busy, &exp, me, false,
						   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
	return false;
}

/* The short per-ring lock of writers into a ring that several processes
 * fill (VALE leases, monitor copies): a pid in a word.  Spins, yields now
 * and then, and takes over a lock whose holder died. */
void unm_kr_lock(struct unm_kring *kr)
{
	uint32_t me = unm_self_pid();
	for (uint32_t spins = 1;; spins++) {
		uint32_t cur = 0;
		if (__atomic_load_n(&kr->lock, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&kr->lock, &cur, me, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
		__builtin_ia32_pause();
		if ((spins & 255) == 0) {
			cur = __atomic_load_n(&kr->lock, __ATOMIC_RELAXED);
			/* a holder killed inside: every state change under
			 * this lock is a single committing store, so the state
			 * it left is consistent and the lock can be taken */
			if (cur != 0 && cur != me && (spins & 4095) == 0 &&
			    !unm_pid_alive((pid_t)cur) &&
			    __atomic_compare_exchange_n(&kr->lock, &cur, me, false,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return;
			sched_yield();
		}
	}
}



/* TX: rhead <= head <= rtail and head <= cur <= rtail, circularly, where
 * rhead/rtail are the values of the previous sync. */
int unm_tx_prologue(struct unm_kref *k, uint32_t *head_out)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	uint32_t n = kr->num_slots;
	/* acquire: slots the user filled before moving head are visible */
	uint32_t head = unm_load_acquire(&ring->head), cur = UNM_READ_ONCE(ring->cur);
	uint32_t rtail = kr->rtail;

	if (unm_unlikely(ring->tail != rtail))
		ring->tail = rtail;	/* the user may not write tail */
	if (unm_unlikely(head >= n || cur >= n))
		return -1;
	if (unm_unlikely(unm_dist(kr->rhead, head, n) > unm_dist(kr->rhead, rtail, n) ||
			 unm_dist(head, cur, n) > unm_dist(head, rtail, n)))
		return -1;
	kr->rhead = head;
	*head_out = head;
	return 0;
}

/* RX: hwcur <= head <= hwtail and head <= cur <= hwtail. */
int unm_rx_prologue(struct unm_kref *k, uint32_t *head_out)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	uint32_t n = kr->num_slots;
	uint32_t head = unm_load_acquire(&ring->head), cur = UNM_READ_ONCE(ring->cur);
	uint32_t hwcur = kr->hwcur, rtail = kr->rtail;

	if (unm_unlikely(ring->tail != rtail))
		ring->tail = rtail;
	if (unm_unlikely(head >= n || cur >= n))
		return -1;
	if (unm_unlikely(unm_dist(hwcur, head, n) > unm_dist(hwcur, rtail, n) ||
			 unm_dist(head, cur, n) > unm_dist(head, rtail, n)))
		return -1;
	kr->rhead = head;
	*head_out = head;
	return 0;
}

/* RX rings that producers fill by publishing hwtail (VALE, monitors):
 * hand [hwcur, head) back to them and show the user what has arrived. */
void unm_rx_import(struct unm_kref *k, uint32_t head)
{
	struct unm_kring *kr = k->kr;
	/* R2: the user is done with [hwcur, head): producers may refill it */
	if (head != kr->hwcur)
		unm_store_release(&kr->hwcur, head);
	/* A1: pairs with the producer's release store of hwtail */
	uint32_t prod = unm_load_acquire(&kr->hwtail);
	UNM_WRITE_ONCE(kr->rtail, prod);
	unm_store_release(&k->ring->tail, prod);
}

/* Bring a ring the user broke back to a sane state: invalid buffer indices
 * become 0 with length 0, oversize lengths become 0, and head/cur/tail are
 * set back to what the kernel side knows.  The sync that found the problem
 * is skipped; the ioctl still returns 0 and poll() reports POLLERR. */
void unm_ring_reinit(struct unm_kref *k, uint32_t nbufs, uint32_t bufsize)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	for (uint32_t i = 0; i < kr->num_slots; i++) {
		struct netmap_slot *s = &ring->slot[i];
		if (s->buf_idx < 2 || s->buf_idx >= nbufs) {
			s->buf_idx = 0;
			s->len = 0;
		} else if (s->len > bufsize) {
			s->len = 0;
		}
	}
	ring->head = ring->cur = kr->hwcur;
	ring->tail = kr->rtail;
	kr->rhead = kr->hwcur;
}

int unm_txsync_ring(struct unm_fd *f, struct unm_kref *k)
{
	if (!unm_busy_enter(k->kr))
		return 0;
	int ret = f->ops->txsync(f, k);
	unm_busy_exit(k->kr);
	return ret;
}

int unm_rxsync_ring(struct unm_fd *f, struct unm_kref *k)
{
	if (!unm_busy_enter(k->kr))
		return 0;
	int ret = f->ops->rxsync(f, k);
	/* netmap timestamps every RX sync by default (sysctl no_timestamp=0) */
	gettimeofday(&k->ring->ts, NULL);
	unm_busy_exit(k->kr);
	return ret;
}

/* ---- wake-ups ---------------------------------------------------------- */

/* Per-process cache of FIFO descriptors used to wake other registrations.
 * Opened O_RDWR so that a write can never raise SIGPIPE, even if every
 * holder of the registration is gone. */
struct wcache { uint32_t gen; int fd; };
static struct wcache *wcache;
static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;

static void wake_one(uint32_t reg, uint32_t gen)
{
	if (reg >= UNM_MAX_REGS)
		return;
	pthread_mutex_lock(&wlock);
	if (wcache == NULL)
		wcache = calloc(UNM_MAX_REGS, sizeof(*wcache));
	if (wcache != NULL) {
		struct wcache *c = &wcache[reg];
		if (c->gen != gen && c->fd > 0) {
			unm_real_close(c->fd - 1);
			c->fd = 0;
		}
		if (c->fd == 0) {
			char path[512];
			unm_fifo_path(path, sizeof(path), reg, gen);
			int fd = unm_real_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
			if (fd >= 0) {
				c->fd = fd + 1;
				c->gen = gen;
			}
		}
		if (c->fd > 0) {
			char b = 1;
			UNM_STAT_INC(unm_stat_wakeups);
			/* EAGAIN: the FIFO is full, so the sleeper will wake anyway */
			if (write(c->fd - 1, &b, 1) < 0 && errno != EAGAIN) {
				unm_real_close(c->fd - 1);
				c->fd = 0;
			}
		}
	}
	pthread_mutex_unlock(&wlock);
}

void unm_notify_slow(struct unm_kring *kr)
{
	uint64_t m = __atomic_exchange_n(&kr->armed, 0, __ATOMIC_ACQ_REL);
	while (m) {
		int i = __builtin_ctzll(m);
		m &= m - 1;
		uint32_t reg = UNM_READ_ONCE(kr->waiter[i].reg);
		uint32_t gen = UNM_READ_ONCE(kr->waiter[i].gen);
		if (gen != 0)
			wake_one(reg, gen);
	}
}

void unm_arm(struct unm_kref *k)
{
	if (k->waiter < 0)
		return;
	__atomic_fetch_or(&k->kr->armed, 1ULL << k->waiter, __ATOMIC_SEQ_CST);
	/* pairs with the fence in unm_notify() */
	unm_smp_mb();
}

void unm_disarm(struct unm_kref *k)
{
	if (k->waiter < 0)
		return;
	if (UNM_READ_ONCE(k->kr->armed) & (1ULL << k->waiter))
		__atomic_fetch_and(&k->kr->armed, ~(1ULL << k->waiter), __ATOMIC_RELAXED);
}

int unm_waiter_add_locked(struct unm_kring *kr, uint32_t reg, uint32_t gen)
{
	for (int i = 0; i < UNM_KR_WAITERS; i++) {
		if (kr->waiter[i].gen == 0) {
			kr->waiter[i].reg = reg;
			UNM_WRITE_ONCE(kr->waiter[i].gen, gen);
			return i;
		}
	}
	return -1;	/* more sleepers than slots: they poll with a short timeout */
}

void unm_waiter_del_locked(struct unm_kring *kr, uint32_t reg, uint32_t gen)
{
	for (int i = 0; i < UNM_KR_WAITERS; i++) {
		if (kr->waiter[i].reg == reg && kr->waiter[i].gen == gen) {
			__atomic_fetch_and(&kr->armed, ~(1ULL << i), __ATOMIC_RELAXED);
			UNM_WRITE_ONCE(kr->waiter[i].gen, 0);
			kr->waiter[i].reg = 0;
		}
	}
}
