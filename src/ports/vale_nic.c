/*
 * vale_nic.c - network interfaces attached to a VALE switch (reference
 * §4.3 "NIC attached to a switch", §2.3 VALE_ATTACH / VALE_DETACH /
 * VALE_POLLING_ENABLE / VALE_POLLING_DISABLE).
 *
 * `vale-ctl -a valeS:IF` makes interface IF a port of switch S: vale.c puts
 * an ordinary VALE port named valeS:IF in the switch (and, with NR_REG_NIC_SW,
 * a second one valeS:IF^ for the host stack), marks them as an attachment
 * (struct unm_vnic in the registry, so that they stay without registrations)
 * and calls unm_vnic_start(), which starts the attachment's helper: a process
 * that holds the interface through the netmap API like any application
 * (netmap:IF-k per queue, netmap:IF with NR_REG_SW for the host rings) and
 * the switch ports (valeS:IF-k, valeS:IF^), and moves frames between them:
 *
 *   NIC RX ring k     -> TX ring k mod 16 of valeS:IF (forwarded by its txsync)
 *   RX ring k of valeS:IF -> NIC TX ring k
 *   host RX ring      -> valeS:IF^       (what the stack sends on IF)
 *   RX ring of valeS:IF^ -> host TX ring (received by the stack as from IF)
 *
 * Frames are copied (the interface's region and the switch ports' regions
 * are different allocators), whole MOREFRAG chains at a time.  Nothing is
 * dropped on the way in (a VALE TX ring is free again after every sync); on
 * the way out a full NIC TX ring leaves the frames in the switch port's RX
 * ring, so that the switch drops the excess at its senders as for any slow
 * receiver.
 *
 * The helper is forked twice (it is nobody's child), calls setsid(), resets
 * its signals, puts the caller's descriptors away (netmap descriptors are
 * replaced by /dev/null, so that their numbers stay taken in the fd table it
 * inherited; every other one is closed) and is named "unetmap-vale".  It
 * reports to the attaching process over a pipe once it holds everything, or
 * why it could not (the attach then fails with that errno and message).
 *
 * Its identity is a FIFO vnic-<port>-<gen> in the runtime directory on which
 * it holds an exclusive flock() as long as it runs: anyone can tell whether
 * it is alive (even after SIGKILL, the kernel drops the lock) and wake it by
 * writing a byte.  Requests reach it through the registry: `stop` (detach),
 * `poll_*` (polling), checked at every wake-up; it acknowledges a polling
 * request with poll_ack / poll_err.
 *
 * Sleeping (default): one thread, poll() on every descriptor with a timeout
 * of a second (netmap fds of a NIC port sleep in short steps inside poll(),
 * see nic.c; the switch ports and the FIFO wake it).  Polling
 * (VALE_POLLING_ENABLE): NETMAP_POLLING_MODE_SINGLE_CPU makes the helper's
 * thread busy-poll every ring, pinned to CPU nr_first_cpu_id;
 * NETMAP_POLLING_MODE_MULTI_CPU starts one thread per NIC RX ring
 * first..first+n-1, each pinned to the CPU with the ring's number and
 * busy-polling that ring's group (its switch rings and NIC TX ring), while
 * the main thread keeps serving the others by sleeping.  Disabling returns
 * to sleeping.  An orphaned helper (its FIFO or interface gone) leaves.
 *
 * The library never exits or prints: the helper is a separate process that
 * ends with _exit() and reports only through its pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <net/netmap_user.h>
#include "core/unm.h"
#include "nic/kobj.h"
#include "ports/vale_xdp.h"
#include "unetmap.h"

#define START_MS	30000	/* longest wait for a new helper's report */
#define SLEEP_MS	1000	/* poll() timeout of a sleeping helper */
#define CHECK_NS	1000000000LL	/* orphan checks of a busy helper */
#define MAX_GROUPS	UNM_VALE_MAXRINGS

/* ---- the FIFO: liveness and wake-up ------------------------------------- */

static void fifo_path(char *buf, size_t len, uint32_t port, uint32_t gen)
{
	unm_path(buf, len, "vnic-%u-%u", port, gen);
}

int unm_vnic_fifo_create(uint32_t port, uint32_t gen)
{
	char path[512];
	fifo_path(path, sizeof(path), port, gen);
	unlink(path);	/* a leftover of a registry that was reset */
	if (mkfifo(path, 0666) < 0) {
		int e = errno;
		unm_seterr("cannot create %s: %s", path, strerror(e));
		return -e;
	}
	/* whoever may use the switch may ask the helper to leave */
	chmod(path, 0666);
	return 0;
}

void unm_vnic_fifo_remove(uint32_t port, uint32_t gen)
{
	char path[512];
	fifo_path(path, sizeof(path), port, gen);
	unlink(path);
}

/* The helper holds an exclusive lock on its FIFO while it runs. */
bool unm_vnic_alive(uint32_t port, uint32_t gen)
{
	char path[512];
	fifo_path(path, sizeof(path), port, gen);
	int fd = unm_real_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool alive = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	unm_real_close(fd);	/* drops our shared lock, if we got it */
	return alive;
}

void unm_vnic_wake(uint32_t port, uint32_t gen)
{
	char path[512];
	fifo_path(path, sizeof(path), port, gen);
	int fd = unm_real_open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd < 0)
		return;		/* no reader: nobody to wake */
	if (write(fd, "w", 1) < 0) { /* full: it has wake-ups pending anyway */ }
	unm_real_close(fd);
}

/* a pidfd of `pid` if that process is our helper (it holds the FIFO lock
 * after the pidfd exists, and is named so), else -1 */
static int helper_pidfd(uint32_t port, uint32_t gen, int32_t pid)
{
	if (pid <= 0)
		return -1;
	int pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pfd < 0)
		return -1;
	char path[64], comm[32] = "";
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	int cfd = unm_real_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (cfd >= 0) {
		ssize_t n = read(cfd, comm, sizeof(comm) - 1);
		comm[n > 0 ? n : 0] = '\0';
		unm_real_close(cfd);
	}
	if (strncmp(comm, "unetmap-vale", 12) != 0 || !unm_vnic_alive(port, gen)) {
		unm_real_close(pfd);
		return -1;
	}
	return pfd;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* until the FIFO lock is free or `ms` passed */
static bool wait_unlocked(uint32_t port, uint32_t gen, int ms)
{
	int64_t end = unm_now_ns() + (int64_t)ms * 1000000;
	for (;;) {
		if (!unm_vnic_alive(port, gen))
			return true;
		if (unm_now_ns() > end)
			return false;
		sleep_ms(2);
	}
}

bool unm_vnic_wait_exit(uint32_t port, uint32_t gen, int32_t pid, int ms)
{
	int pfd = helper_pidfd(port, gen, pid);
	unm_vnic_wake(port, gen);
	bool gone = wait_unlocked(port, gen, ms);
	if (!gone && pfd >= 0) {
		/* it does not answer: as if it had been killed */
		syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
		gone = wait_unlocked(port, gen, 2000);
	}
	if (pfd >= 0) {
		/* the process itself, not only its files (bounded) */
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		while (unm_real_poll(&p, 1, 1000) < 0 && errno == EINTR)
			;
		unm_real_close(pfd);
	}
	return gone;
}

/* ---- who may register what -------------------------------------------------- */

int unm_vnic_owner_check_locked(uint32_t idx)
{
	struct unm_registry *r = unm_registry();
	const struct unm_port *p = &r->ports[idx], *a = NULL;
	if (p->kind == UNM_PORT_VALE && p->vnic.role == UNM_VNIC_NIC) {
		a = p;
	} else if (p->kind == UNM_PORT_VALE && p->vnic.role == UNM_VNIC_HOST) {
		if (p->vnic.peer_port < UNM_MAX_PORTS)
			a = &r->ports[p->vnic.peer_port];
		if (a != NULL && (a->vnic.role != UNM_VNIC_NIC || a->vnic.gen != p->vnic.gen))
			a = NULL;
		if (a == NULL) {
			unm_seterr("%s: host port of a detached interface", p->name);
			return -EBUSY;
		}
	} else if (p->kind == UNM_PORT_NIC) {
		for (uint32_t i = 0; i < r->port_hwm && a == NULL; i++) {
			const struct unm_port *q = &r->ports[i];
			if (q->kind == UNM_PORT_VALE && q->vnic.role == UNM_VNIC_NIC &&
			    strcmp(q->vnic.ifname, p->name) == 0)
				a = q;
		}
	}
	if (a == NULL)
		return 0;
	if (a->vnic.pid > 0 && (uint32_t)a->vnic.pid == unm_self_pid())
		return 0;	/* the attachment's helper */
	unm_seterr("%s: interface %s is attached to a VALE switch as %s (detach it first: "
		   "vale-ctl -d %s)", p->name, a->vnic.ifname, a->name, a->name);
	return -EBUSY;
}

int unm_vnic_if_check(const char *ifname, uint32_t *nrxq, uint32_t *ntxq)
{
	struct unm_nic_info info;
	if (unm_nic_info(ifname, &info) == 0) {
		/* a NIC helper holds it: netmap applications use it (maybe
		 * through another runtime directory) */
		unm_seterr("%s is in use by netmap applications (%u sessions, NIC helper pid %d)",
			   ifname, info.users, (int)info.helper_pid);
		return -EBUSY;
	}
	return unm_nic_queues(ifname, nrxq, ntxq);
}

/* ---- the helper: descriptors -------------------------------------------------- */

/* one netmap descriptor of the helper and the (at most one) RX and TX ring
 * of it that the helper moves frames with */
struct vn_fd {
	int fd;
	void *mem;
	size_t memsize;
	struct netmap_ring *rx, *tx;
	bool queued;		/* TX slots written since the last txsync */
};

/* A group: TX ring g of the switch port with the NIC RX rings that feed it
 * (nic[0] ring g, then rings g + 16, g + 32, ... of a NIC with more than 16
 * queues), and RX ring g of the switch port with the NIC TX ring g
 * (nic[0]) it feeds.  The host group pairs the host rings with valeS:IF^.
 * A group is served by one thread at a time. */
struct vn_group {
	struct vn_fd vale;
	struct vn_fd *nic;
	uint32_t nnic;
	bool blocked;		/* vale.rx holds frames that did not fit nic[0].tx */
	int worker;		/* -1: the main thread */
};

struct vn_worker {
	pthread_t th;
	uint32_t cpu;
	struct vn_group *g;
	int stop;
	bool running;
};

struct vn_helper {
	uint32_t port, gen;
	char ifname[16];
	char fifo[512];
	int fifo_fd;
	struct vn_group grp[MAX_GROUPS + 1];	/* + the host group */
	uint32_t ngrp;
	uint32_t nvt;			/* TX rings of valeS:IF: groups 0..nvt-1 have one */
	bool busy;			/* SINGLE_CPU polling: the main thread spins */
	uint32_t applied;		/* poll_gen applied */
	cpu_set_t cpus0;		/* affinity at start */
	struct vn_worker wk[MAX_GROUPS];
	uint32_t nwk;
	int64_t next_check;
	struct vn_xdp *xdp;		/* the switch's XDP fast path, NULL: off */
	int64_t next_xdp;
};

static volatile sig_atomic_t vn_sig_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	vn_sig_stop = 1;
}

static void vn_close(struct vn_fd *v)
{
	if (v->mem != NULL)
		munmap(v->mem, v->memsize);
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	v->mem = NULL;
	v->rx = v->tx = NULL;
}

/* Register `name` (mode, ring, flags) through the netmap API; the first
 * bound RX and TX ring become v->rx / v->tx. */
static int vn_open(struct vn_fd *v, const char *name, uint32_t mode, uint32_t ring, uint64_t flags)
{
	struct nmreq_header hdr;
	struct nmreq_register reg;
	memset(v, 0, sizeof(*v));
	v->fd = -1;
	memset(&hdr, 0, sizeof(hdr));
	memset(&reg, 0, sizeof(reg));
	hdr.nr_version = NETMAP_API;
	hdr.nr_reqtype = NETMAP_REQ_REGISTER;
	hdr.nr_body = (uintptr_t)&reg;
	snprintf(hdr.nr_name, sizeof(hdr.nr_name), "%s", name);
	reg.nr_mode = mode;
	reg.nr_ringid = (uint16_t)ring;
	reg.nr_flags = flags;
	int fd = open("/dev/netmap", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, NIOCCTRL, &hdr) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	void *mem = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		int e = errno;
		close(fd);
		unm_seterr("%s: mmap: %s", name, strerror(e));
		return -e;
	}
	v->fd = fd;
	v->mem = mem;
	v->memsize = reg.nr_memsize;
	struct netmap_if *nifp = NETMAP_IF(mem, reg.nr_offset);
	uint32_t ntx = nifp->ni_tx_rings + nifp->ni_host_tx_rings;
	uint32_t nrx = nifp->ni_rx_rings + nifp->ni_host_rx_rings;
	for (uint32_t i = 0; i < ntx && v->tx == NULL; i++)
		if (nifp->ring_ofs[i] != 0)
			v->tx = NETMAP_TXRING(nifp, i);
	for (uint32_t i = 0; i < nrx && v->rx == NULL; i++)
		if (nifp->ring_ofs[ntx + i] != 0)
			v->rx = NETMAP_RXRING(nifp, i);
	return 0;
}

/* ---- the helper: moving frames ---------------------------------------------- */

/* Copy the whole frames waiting in `rx` to `tx`, as many as fit, and
 * release them.  A chain still open at the end of rx waits for the rest,
 * unless it fills the ring; a frame that can never fit tx, or has no data,
 * is dropped.  Returns the frames queued on tx. */
static unsigned move(struct netmap_ring *rx, struct netmap_ring *tx)
{
	uint32_t rh = rx->head, rt = rx->tail, th = tx->head;
	uint32_t room = nm_ring_space(tx);
	uint32_t rn = rx->num_slots, tn = tx->num_slots, tbsz = tx->nr_buf_size;
	unsigned frames = 0;

	while (rh != rt) {
		uint32_t n = 0, j = rh, bytes = 0;
		bool whole = false;
		while (j != rt) {
			const struct netmap_slot *s = &rx->slot[j];
			n++;
			bytes += s->len;
			j = j + 1 == rn ? 0 : j + 1;
			if (!(s->flags & NS_MOREFRAG)) {
				whole = true;
				break;
			}
		}
		if (!whole) {
			if (n < rn - 1)
				break;		/* the rest is still coming */
			rh = j;			/* a chain as long as the ring */
			continue;
		}
		if (n > tn - 1 || bytes == 0) {
			rh = j;			/* never fits / nothing to send */
			continue;
		}
		if (n > room)
			break;
		for (uint32_t k = 0; k < n; k++) {
			const struct netmap_slot *s = &rx->slot[rh];
			struct netmap_slot *d = &tx->slot[th];
			uint32_t len = s->len < tbsz ? s->len : tbsz;
			memcpy(NETMAP_BUF(tx, d->buf_idx), NETMAP_BUF(rx, s->buf_idx), len);
			d->len = (uint16_t)len;
			d->flags = k + 1 < n ? NS_MOREFRAG : 0;
			rh = rh + 1 == rn ? 0 : rh + 1;
			th = th + 1 == tn ? 0 : th + 1;
		}
		room -= n;
		frames++;
	}
	rx->head = rx->cur = rh;
	tx->head = tx->cur = th;
	return frames;
}

static inline void sync_tx(struct vn_fd *v)
{
	ioctl(v->fd, NIOCTXSYNC, NULL);
	v->queued = false;
}

/* One round over a group: the interface's frames into the switch, the
 * switch's frames out of the interface.  `busy`: sync the RX rings first
 * (a sleeping helper's poll() did). */
static void group_pass(struct vn_group *g, bool busy)
{
	struct vn_fd *v = &g->vale;
	if (v->tx != NULL) {
		for (uint32_t i = 0; i < g->nnic; i++) {
			struct vn_fd *n = &g->nic[i];
			if (n->rx == NULL)
				continue;
			if (busy)
				ioctl(n->fd, NIOCRXSYNC, NULL);
			/* a switch TX ring is entirely free after each sync:
			 * a bounded number of rounds empties the NIC ring */
			for (int round = 0; round < 8 && !nm_ring_empty(n->rx); round++) {
				if (move(n->rx, v->tx) > 0)
					v->queued = true;
				if (nm_ring_empty(n->rx) || !v->queued)
					break;
				sync_tx(v);
			}
		}
		if (v->queued)
			sync_tx(v);
	}
	struct vn_fd *o = &g->nic[0];
	if (v->rx != NULL && o->tx != NULL) {
		if (busy)
			ioctl(v->fd, NIOCRXSYNC, NULL);
		if (!nm_ring_empty(v->rx)) {
			if (move(v->rx, o->tx) > 0)
				o->queued = true;
			if (!nm_ring_empty(v->rx)) {
				/* send and collect completions, then the rest */
				sync_tx(o);
				if (move(v->rx, o->tx) > 0)
					o->queued = true;
			}
		}
		if (o->queued)
			sync_tx(o);
		g->blocked = !nm_ring_empty(v->rx);
	}
}

/* ---- the helper: threads and CPUs ------------------------------------------------ */

static void *worker_main(void *arg)
{
	struct vn_worker *w = arg;
	char name[16];
	snprintf(name, sizeof(name), "unetmap-vale%u", w->cpu);
	pthread_setname_np(pthread_self(), name);
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE))
		group_pass(w->g, true);
	return NULL;
}

static void workers_stop(struct vn_helper *h)
{
	for (uint32_t i = 0; i < h->nwk; i++)
		__atomic_store_n(&h->wk[i].stop, 1, __ATOMIC_RELEASE);
	for (uint32_t i = 0; i < h->nwk; i++) {
		if (h->wk[i].running)
			pthread_join(h->wk[i].th, NULL);
		h->wk[i].running = false;
		if (h->wk[i].g != NULL)
			h->wk[i].g->worker = -1;
	}
	h->nwk = 0;
}

static int worker_start(struct vn_helper *h, struct vn_group *g, uint32_t cpu)
{
	struct vn_worker *w = &h->wk[h->nwk];
	memset(w, 0, sizeof(*w));
	w->cpu = cpu;
	w->g = g;
	pthread_attr_t at;
	cpu_set_t set;
	pthread_attr_init(&at);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int ret = pthread_attr_setaffinity_np(&at, sizeof(set), &set);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);	/* signals go to the main thread */
	if (ret == 0)
		ret = pthread_create(&w->th, &at, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (ret != 0)
		return -ret;
	w->running = true;
	g->worker = (int)h->nwk;
	h->nwk++;
	return 0;
}

/* Apply the polling request `pg` of the registry; acknowledge it there. */
static void reconfigure(struct vn_helper *h, uint32_t pg)
{
	struct unm_registry *r = unm_registry();
	uint32_t mode = 0, first = 0, ncpu = 0;
	if (unm_lock() < 0)
		return;
	struct unm_port *p = &r->ports[h->port];
	pg = p->vnic.poll_gen;
	mode = p->vnic.poll_mode;
	first = p->vnic.poll_first;
	ncpu = p->vnic.poll_ncpu;
	unm_unlock();

	workers_stop(h);
	h->busy = false;
	sched_setaffinity(0, sizeof(h->cpus0), &h->cpus0);
	int err = 0;
	if (mode == NETMAP_POLLING_MODE_SINGLE_CPU) {
		cpu_set_t set;
		CPU_ZERO(&set);
		if (first >= CPU_SETSIZE) {
			err = -EINVAL;
		} else {
			CPU_SET(first, &set);
			if (sched_setaffinity(0, sizeof(set), &set) < 0)
				err = -errno;
			else
				h->busy = true;
		}
	} else if (mode == NETMAP_POLLING_MODE_MULTI_CPU) {
		/* NIC RX ring c, polled by CPU c, is in group c mod (switch
		 * TX rings) */
		for (uint32_t c = first; c < first + ncpu && err == 0; c++) {
			if (h->nvt == 0 || c >= CPU_SETSIZE) {
				err = -EINVAL;
				break;
			}
			struct vn_group *g = &h->grp[c % h->nvt];
			if (g->worker >= 0)
				continue;	/* already polled */
			err = worker_start(h, g, c);
		}
		if (err < 0)
			workers_stop(h);
	}
	if (unm_lock() < 0)
		return;
	p = &r->ports[h->port];
	if (p->vnic.gen == h->gen && p->vnic.role == UNM_VNIC_NIC) {
		p->vnic.poll_err = err;
		unm_store_release(&p->vnic.poll_ack, pg);
	}
	unm_unlock();
	h->applied = pg;
}

/* ---- the helper: main loop ------------------------------------------------------ */

/* still attached, and nobody asked it to leave? */
static bool wanted(const struct vn_helper *h)
{
	const struct unm_port *p = &unm_registry()->ports[h->port];
	return !vn_sig_stop && UNM_READ_ONCE(p->kind) == UNM_PORT_VALE &&
	       UNM_READ_ONCE(p->vnic.role) == UNM_VNIC_NIC && UNM_READ_ONCE(p->vnic.gen) == h->gen &&
	       !UNM_READ_ONCE(p->vnic.stop);
}

/* orphaned: nobody could detach it any more, or nothing to serve */
static bool orphaned(const struct vn_helper *h)
{
	struct stat st;
	return stat(h->fifo, &st) < 0 || if_nametoindex(h->ifname) == 0;
}

static void drain_fifo(struct vn_helper *h)
{
	char buf[256];
	while (read(h->fifo_fd, buf, sizeof(buf)) > 0)
		;
}

static void sleep_once(struct vn_helper *h)
{
	struct pollfd pfd[1 + (MAX_GROUPS + 1) * 18];
	nfds_t n = 0;
	pfd[n++] = (struct pollfd){ .fd = h->fifo_fd, .events = POLLIN };
	for (uint32_t i = 0; i < h->ngrp; i++) {
		struct vn_group *g = &h->grp[i];
		if (g->worker >= 0)
			continue;
		for (uint32_t k = 0; k < g->nnic && n < sizeof(pfd) / sizeof(pfd[0]); k++) {
			short ev = g->nic[k].rx != NULL ? POLLIN : 0;
			if (k == 0 && g->blocked)
				ev |= POLLOUT;
			if (ev != 0)
				pfd[n++] = (struct pollfd){ .fd = g->nic[k].fd, .events = ev };
		}
		if (g->vale.rx != NULL && !g->blocked && n < sizeof(pfd) / sizeof(pfd[0]))
			pfd[n++] = (struct pollfd){ .fd = g->vale.fd, .events = POLLIN };
	}
	int ret = poll(pfd, n, h->xdp != NULL ? (int)(VN_XDP_SYNC_NS / 1000000) : SLEEP_MS);
	if (ret > 0 && (pfd[0].revents & POLLIN))
		drain_fifo(h);
	for (uint32_t i = 0; i < h->ngrp; i++)
		if (h->grp[i].worker < 0)
			group_pass(&h->grp[i], false);
}

static void serve(struct vn_helper *h)
{
	struct unm_port *p = &unm_registry()->ports[h->port];
	h->next_check = unm_now_ns() + CHECK_NS;
	while (wanted(h)) {
		uint32_t pg = unm_load_acquire(&p->vnic.poll_gen);
		if (pg != h->applied)
			reconfigure(h, pg);
		if (!h->busy) {
			sleep_once(h);
		} else {
			for (int i = 0; i < 256; i++)
				for (uint32_t k = 0; k < h->ngrp; k++)
					if (h->grp[k].worker < 0)
						group_pass(&h->grp[k], true);
		}
		int64_t now = unm_now_ns();
		if (h->xdp != NULL && now > h->next_xdp) {
			h->next_xdp = now + VN_XDP_SYNC_NS;
			vn_xdp_sync(h->xdp);
		}
		if (now > h->next_check) {
			h->next_check = now + CHECK_NS;
			if (h->busy)
				drain_fifo(h);
			if (orphaned(h))
				break;
		}
	}
	workers_stop(h);
}

/* ---- the helper: start and end ------------------------------------------------------ */

struct vn_report {
	int32_t err;
	int32_t pid;
	char msg[256];
};

static void report(int fd, int err, const char *msg)
{
	struct vn_report rep;
	memset(&rep, 0, sizeof(rep));
	rep.err = err;
	rep.pid = (int32_t)getpid();
	snprintf(rep.msg, sizeof(rep.msg), "%s", msg != NULL ? msg : "");
	if (write(fd, &rep, sizeof(rep)) < 0) { /* the attacher is gone */ }
}

static void helper_close_all(struct vn_helper *h)
{
	/* the interface first, so that it is free when the FIFO lock goes */
	for (uint32_t i = 0; i < h->ngrp; i++) {
		for (uint32_t k = 0; k < h->grp[i].nnic; k++)
			vn_close(&h->grp[i].nic[k]);
	}
	for (uint32_t i = 0; i < h->ngrp; i++)
		vn_close(&h->grp[i].vale);
}

/* The groups and their descriptors (see struct vn_group). */
static int open_all(struct vn_helper *h, const char *swport, uint32_t host_port, uint32_t nvt,
		    uint32_t nvr, uint32_t nrxq, uint32_t ntxq, char *msg, size_t ml)
{
	uint32_t ng = nvt > nvr ? nvt : nvr;
	char name[UNM_NAME_MAX + 8];
	int ret;
	for (uint32_t g = 0; g < ng; g++) {
		struct vn_group *gr = &h->grp[h->ngrp];
		uint32_t extra = 0;
		for (uint32_t k = g + nvt; nvt > 0 && k < nrxq && g < nvt; k += nvt)
			extra++;
		gr->nic = calloc(1 + extra, sizeof(*gr->nic));
		if (gr->nic == NULL)
			return -ENOMEM;
		for (uint32_t k = 0; k <= extra; k++)
			gr->nic[k].fd = -1;
		gr->vale.fd = -1;
		gr->worker = -1;
		h->ngrp++;
		/* the switch side: TX ring g if the NIC has RX queue g, RX ring
		 * g if it has TX queue g */
		uint64_t fl = g >= nvt ? NR_RX_RINGS_ONLY : g >= nvr ? NR_TX_RINGS_ONLY : 0;
		if ((ret = vn_open(&gr->vale, swport, NR_REG_ONE_NIC, g, fl)) < 0) {
			snprintf(msg, ml, "%.64s-%u: %.170s", swport, g, unetmap_last_error());
			return ret;
		}
		fl = g >= ntxq ? NR_RX_RINGS_ONLY : g >= nrxq ? NR_TX_RINGS_ONLY : 0;
		if ((ret = vn_open(&gr->nic[0], h->ifname, NR_REG_ONE_NIC, g, fl)) < 0) {
			snprintf(msg, ml, "netmap:%.16s-%u: %.170s", h->ifname, g, unetmap_last_error());
			return ret;
		}
		gr->nnic = 1;
		for (uint32_t k = g + nvt; nvt > 0 && g < nvt && k < nrxq; k += nvt) {
			if ((ret = vn_open(&gr->nic[gr->nnic], h->ifname, NR_REG_ONE_NIC, k,
					   NR_RX_RINGS_ONLY)) < 0) {
				snprintf(msg, ml, "netmap:%.16s-%u: %.170s", h->ifname, k, unetmap_last_error());
				return ret;
			}
			gr->nnic++;
		}
	}
	if (host_port != UNM_NONE) {
		struct vn_group *gr = &h->grp[h->ngrp];
		gr->nic = calloc(1, sizeof(*gr->nic));
		if (gr->nic == NULL)
			return -ENOMEM;
		gr->nic[0].fd = gr->vale.fd = -1;
		gr->worker = -1;
		h->ngrp++;
		snprintf(name, sizeof(name), "%s^", swport);
		if ((ret = vn_open(&gr->vale, name, NR_REG_ALL_NIC, 0, 0)) < 0) {
			snprintf(msg, ml, "%.70s: %.170s", name, unetmap_last_error());
			return ret;
		}
		if ((ret = vn_open(&gr->nic[0], h->ifname, NR_REG_SW, 0, 0)) < 0) {
			snprintf(msg, ml, "netmap:%.16s^: %.170s", h->ifname, unetmap_last_error());
			return ret;
		}
		gr->nnic = 1;
	}
	return 0;
}

static __attribute__((noreturn)) void helper_main(uint32_t port, uint32_t gen, int rep_fd)
{
	static struct vn_helper h;
	struct unm_registry *r = unm_registry();
	char msg[256] = "";
	int ret;

	setsid();
	unm_helper_signals(on_stop_signal);
	unm_helper_fds(rep_fd);
	if (chdir("/") < 0) { /* stay where we are */ }
	prctl(PR_SET_NAME, "unetmap-vale", 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);

	memset(&h, 0, sizeof(h));
	h.port = port;
	h.gen = gen;
	h.fifo_fd = -1;
	sched_getaffinity(0, sizeof(h.cpus0), &h.cpus0);
	fifo_path(h.fifo, sizeof(h.fifo), port, gen);
	h.fifo_fd = unm_real_open(h.fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
	if (h.fifo_fd < 0 || flock(h.fifo_fd, LOCK_EX) < 0) {
		ret = -errno;
		snprintf(msg, sizeof(msg), "%.180s: %s", h.fifo, strerror(errno));
		goto fail;
	}

	/* who we are, what to serve */
	char swport[UNM_NAME_MAX];
	uint32_t host_port = UNM_NONE, nvt = 0, nvr = 0, nrxq = 0, ntxq = 0;
	if ((ret = unm_lock()) < 0) {
		snprintf(msg, sizeof(msg), "registry: %s", strerror(-ret));
		goto fail;
	}
	struct unm_port *p = &r->ports[port];
	if (p->kind != UNM_PORT_VALE || p->vnic.role != UNM_VNIC_NIC || p->vnic.gen != gen ||
	    p->vnic.stop) {
		unm_unlock();
		ret = -ENXIO;
		snprintf(msg, sizeof(msg), "the attachment went away while its helper started");
		goto fail;
	}
	p->vnic.pid = (int32_t)getpid();
	snprintf(swport, sizeof(swport), "%s", p->name);
	memcpy(h.ifname, p->vnic.ifname, sizeof(h.ifname));
	h.ifname[sizeof(h.ifname) - 1] = '\0';
	host_port = p->vnic.peer_port;
	nvt = h.nvt = p->ntx;
	nvr = p->nrx;
	nrxq = p->vnic.nrxq;
	ntxq = p->vnic.ntxq;
	h.applied = p->vnic.poll_gen;
	unm_unlock();

	if ((ret = open_all(&h, swport, host_port, nvt, nvr, nrxq, ntxq, msg, sizeof(msg))) < 0)
		goto fail;
	h.xdp = vn_xdp_open(port, gen, h.grp[0].nic[0].fd);
	vn_xdp_sync(h.xdp);
	/* everything is open: moving frames (and the fast path's maps) needs
	 * no privilege; the NIC helper keeps what the interface needs */
	unetmap_drop_privileges();
	report(rep_fd, 0, NULL);
	close(rep_fd);

	serve(&h);
	vn_xdp_close(h.xdp);
	helper_close_all(&h);
	_exit(0);

fail:
	helper_close_all(&h);
	report(rep_fd, ret, msg);
	_exit(1);
}

int unm_vnic_start(uint32_t port, uint32_t gen, int32_t *pid_out)
{
	int pp[2];
	*pid_out = 0;
	if (pipe2(pp, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		unm_real_close(pp[0]);
		unm_real_close(pp[1]);
		unm_seterr("fork: %s", strerror(e));
		return -e;
	}
	if (pid == 0) {
		/* not the caller's child: the middle process leaves at once */
		pid_t g = fork();
		if (g == 0)
			helper_main(port, gen, pp[1]);
		_exit(g < 0 ? 1 : 0);
	}
	unm_real_close(pp[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	struct vn_report rep;
	memset(&rep, 0, sizeof(rep));
	size_t got = 0;
	int64_t end = unm_now_ns() + (int64_t)START_MS * 1000000;
	while (got < sizeof(rep)) {
		int64_t left = (end - unm_now_ns()) / 1000000;
		if (left <= 0)
			break;
		struct pollfd p = { .fd = pp[0], .events = POLLIN };
		int pr = unm_real_poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		ssize_t n = read(pp[0], (char *)&rep + got, sizeof(rep) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	unm_real_close(pp[0]);
	rep.msg[sizeof(rep.msg) - 1] = '\0';
	*pid_out = rep.pid;
	if (got < sizeof(rep)) {
		/* silent or stuck: make sure it does not serve later (its pid
		 * is in the registry once it started) */
		const struct unm_port *p = &unm_registry()->ports[port];
		int32_t hp = UNM_READ_ONCE(p->vnic.gen) == gen ? UNM_READ_ONCE(p->vnic.pid) : 0;
		if (unm_vnic_alive(port, gen))
			unm_vnic_wait_exit(port, gen, hp, 0);
		unm_seterr("the helper of the attachment did not report within %d ms "
			   "(or died)", START_MS);
		return -EIO;
	}
	if (rep.err < 0) {
		unm_seterr("%s", rep.msg);
		return rep.err;
	}
	return 0;
}
