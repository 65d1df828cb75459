/*
 * vale.c - the VALE learning switch: ports valeS:P, forwarding by copy in
 * the sender's txsync, leases on destination rings, persistent ports.
 *
 * State:
 *   registry   vale[] (switch name, members by switch port index), ports
 *              (kind VALE or VALE_PERSIST, attachments sw[]/swport[]) and
 *              vale_gen, bumped on every membership or lookup change.
 *   vale-S-G   one file per switch: the MAC table and the path of the
 *              lookup object.  Opening it read-write is what a process
 *              needs to use the switch, so its mode (0666 & ~umask of the
 *              creator) decides who may; ports of the switch get private
 *              regions with the same mode.
 *   krings     an RX ring of a VALE port carries the lease state (unm.h).
 *
 * Data path (sender's txsync, per TX ring):
 *   1. if vale_gen moved, rebuild the cached view of every destination
 *      (regions mapped, ring pointers, ring tags) under the registry lock;
 *   2. pass 1: cut the slots [hwcur, head) into frames (MOREFRAG chains),
 *      drop malformed ones, look each up (learning on the source MAC) and
 *      chain it on its destination's list;
 *   3. pass 2, per destination ring: lock, check the ring is open and is
 *      still the ring we cached (tag), reserve as many whole frames as fit
 *      (the rest are dropped and counted), unlock; copy; lock, mark the
 *      reservation done and publish hwtail over every leading completed
 *      reservation; unlock; wake the receiver if it sleeps.
 * Two short lock holds per destination per batch; nothing per packet is an
 * atomic read-modify-write.  The lock word holds the holder's pid, so a
 * holder killed inside is taken over; a reservation whose process died is
 * completed as zero-length slots (counted in drop_dead) by whoever finds it
 * stuck for more than a couple of milliseconds.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "core/unm.h"
#include "core/vnet.h"
#include "unetmap.h"

#define VALE_FILE_MAGIC	0x756e6d76616c6531ULL	/* "unmvale1" */
#define MAC_BITS	10
#define MAC_ENTRIES	(1u << MAC_BITS)	/* netmap's table size */
#define STALL_NS	2000000LL		/* a reservation stuck this long: check its owner */
#define DRAIN_NS	1000000000LL		/* longest wait for reservations at close */
#define BCAST		UNETMAP_VALE_BROADCAST
#define NOPORT		UNETMAP_VALE_NOPORT

struct vale_file {
	uint64_t magic;
	uint32_t gen;
	uint32_t lookup_gen;
	char name[16];
	char lookup[256];	/* path of the lookup object, "" = learning */
	_Alignas(UNM_CACHELINE) uint64_t mac[MAC_ENTRIES];	/* mac48 | (port+1) << 48 */
};


/* ---- fault points (crash tests) ------------------------------------------ */

enum { F_NONE, F_AFTER_RESERVE, F_MID_COPY, F_BEFORE_PUBLISH };
static int fault_point;

/* read when a VALE port is registered, so a test child can set it after
 * fork; the data path then tests one integer */
void unm_vale_fault_init(void)
{
	const char *v = getenv("UNETMAP_FAULT");
	int f = F_NONE;
	if (v != NULL && strcmp(v, "vale-after-reserve") == 0)
		f = F_AFTER_RESERVE;
	else if (v != NULL && strcmp(v, "vale-mid-copy") == 0)
		f = F_MID_COPY;
	else if (v != NULL && strcmp(v, "vale-before-publish") == 0)
		f = F_BEFORE_PUBLISH;
	__atomic_store_n(&fault_point, f, __ATOMIC_RELAXED);
}

static inline void fault(int point)
{
	if (unm_unlikely(__atomic_load_n(&fault_point, __ATOMIC_RELAXED) == point))
		raise(SIGKILL);
}

/* ---- switch files ----------------------------------------------------------- */

struct swmap {
	struct swmap *next;
	uint32_t swi, gen;
	int refs;
	struct vale_file *f;
};
static struct swmap *swmaps;
static pthread_mutex_t swmap_lock = PTHREAD_MUTEX_INITIALIZER;

static void sw_path(char *buf, size_t len, const char *name, uint32_t gen)
{
	unm_path(buf, len, "vale-%s-%u", name, gen);
}

/* Map the file of live switch `swi` (registry lock held).  -EACCES when
 * this process may not use the switch. */
static int sw_get(uint32_t swi, struct swmap **out)
{
	struct unm_vale_ent *e = &unm_registry()->vale[swi];
	pthread_mutex_lock(&swmap_lock);
	for (struct swmap *s = swmaps; s != NULL; s = s->next) {
		if (s->swi == swi && s->gen == e->gen) {
			s->refs++;
			pthread_mutex_unlock(&swmap_lock);
			*out = s;
			return 0;
		}
	}
	pthread_mutex_unlock(&swmap_lock);
	char path[512];
	sw_path(path, sizeof(path), e->name, e->gen);
	int fd = unm_real_open(path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0) {
		int err = errno;
		unm_seterr("cannot open switch %s (%s): %s", e->name, path, strerror(err));
		return -err;
	}
	void *p = unm_real_mmap(NULL, sizeof(struct vale_file), PROT_READ | PROT_WRITE,
				MAP_SHARED, fd, 0);
	int err = errno;
	unm_real_close(fd);
	if (p == MAP_FAILED)
		return -err;
	struct swmap *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		munmap(p, sizeof(struct vale_file));
		return -ENOMEM;
	}
	s->swi = swi;
	s->gen = e->gen;
	s->refs = 1;
	s->f = p;
	pthread_mutex_lock(&swmap_lock);
	s->next = swmaps;
	swmaps = s;
	pthread_mutex_unlock(&swmap_lock);
	*out = s;
	return 0;
}

static void sw_put(struct swmap *s);

/* may this process use switch `swi`? (its file opens read-write) */
static int sw_access(uint32_t swi)
{
	struct swmap *sm;
	int ret = sw_get(swi, &sm);
	if (ret == 0)
		sw_put(sm);
	return ret;
}

static void sw_put(struct swmap *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&swmap_lock);
	if (--s->refs == 0) {
		for (struct swmap **pp = &swmaps; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == s) {
				*pp = s->next;
				break;
			}
		}
		munmap(s->f, sizeof(struct vale_file));
		free(s);
	}
	pthread_mutex_unlock(&swmap_lock);
}

/* mode of the switch file: ports' regions are created with it */
static mode_t sw_mode(uint32_t swi)
{
	struct unm_vale_ent *e = &unm_registry()->vale[swi];
	char path[512];
	struct stat st;
	sw_path(path, sizeof(path), e->name, e->gen);
	if (stat(path, &st) < 0)
		return 0600;
	return st.st_mode & 0666;
}

static mode_t creation_mode(void)
{
	mode_t um = umask(0);
	umask(um);
	return 0666 & ~um;
}

static void vale_gen_bump(void)
{
	struct unm_registry *r = unm_registry();
	unm_store_release(&r->vale_gen, r->vale_gen + 1);
}

/* ---- names ----------------------------------------------------------------- */

bool unm_vale_name(const char *name)
{
	/* netmap compares strlen("vale") - 1 characters */
	return strncmp(name, "val", 3) == 0;
}

/* Split "valeS:P" into switch and port names. */
static int parse(const char *name, char sw[16], char port[16])
{
	const char *c = strchr(name, ':');
	if (c == NULL || c - name >= 16 || c == name) {
		unm_seterr("malformed VALE port name %s (want valeSWITCH:PORT)", name);
		return -EINVAL;
	}
	for (const char *p = name; p < c; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_')) {
			unm_seterr("invalid character in switch name of %s", name);
			return -EINVAL;
		}
	}
	size_t pl = strlen(c + 1);
	if (pl == 0 || pl > 15) {
		unm_seterr("VALE port name after ':' must have 1 to 15 characters (%s)", name);
		return -EINVAL;
	}
	for (const char *p = c + 1; *p; p++) {
		if (*p <= ' ' || *p == ':' || *p == '/' || *p == '@' || *p == '{' || *p == '}') {
			unm_seterr("invalid character in VALE port name %s", name);
			return -EINVAL;
		}
	}
	memcpy(sw, name, (size_t)(c - name));
	sw[c - name] = '\0';
	memcpy(port, c + 1, pl + 1);
	return 0;
}

/* parse() for requests that only take VALE names */
static int parse_vale(const char *name, char sw[16], char port[16])
{
	if (!unm_vale_name(name)) {
		unm_seterr("%s: not a VALE name", name);
		return -EINVAL;
	}
	return parse(name, sw, port);
}

static int sw_find(const char *sw)
{
	struct unm_registry *r = unm_registry();
	for (int i = 0; i < UNM_VALE_MAXSW; i++)
		if (r->vale[i].live && strcmp(r->vale[i].name, sw) == 0)
			return i;
	return -1;
}

static int sw_create(const char *sw, uint32_t *out)
{
	struct unm_registry *r = unm_registry();
	int i;
	for (i = 0; i < UNM_VALE_MAXSW; i++)
		if (!r->vale[i].live)
			break;
	if (i == UNM_VALE_MAXSW) {
		unm_seterr("too many VALE switches (%d)", UNM_VALE_MAXSW);
		return -ENOMEM;
	}
	struct unm_vale_ent *e = &r->vale[i];
	uint32_t gen = ++r->gen;
	char path[512];
	sw_path(path, sizeof(path), sw, gen);
	/* the creator's umask decides who else may use the switch */
	int fd = unm_real_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) {
		int err = errno;
		unm_seterr("cannot create switch file %s: %s", path, strerror(err));
		return -err;
	}
	if (ftruncate(fd, sizeof(struct vale_file)) < 0) {
		int err = errno;
		unm_real_close(fd);
		unlink(path);
		return -err;
	}
	struct vale_file *f = unm_real_mmap(NULL, sizeof(*f), PROT_READ | PROT_WRITE,
					    MAP_SHARED, fd, 0);
	unm_real_close(fd);
	if (f == MAP_FAILED) {
		unlink(path);
		return -ENOMEM;
	}
	f->gen = gen;
	snprintf(f->name, sizeof(f->name), "%s", sw);
	f->magic = VALE_FILE_MAGIC;
	munmap(f, sizeof(*f));
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", sw);
	e->gen = gen;
	for (int j = 0; j < UNM_VALE_MAXPORTS; j++)
		e->port[j] = UNM_NONE;
	e->live = 1;	/* commit */
	*out = (uint32_t)i;
	return 0;
}

static void sw_remove_if_empty(uint32_t swi)
{
	struct unm_vale_ent *e = &unm_registry()->vale[swi];
	if (!e->live || e->nactive != 0)
		return;
	char path[512];
	sw_path(path, sizeof(path), e->name, e->gen);
	e->live = 0;
	unlink(path);
	vale_gen_bump();
}

bool unm_vale_stale_file(const char *fname)
{
	struct unm_registry *r = unm_registry();
	for (int i = 0; i < UNM_VALE_MAXSW; i++) {
		char want[64];
		if (!r->vale[i].live)
			continue;
		snprintf(want, sizeof(want), "vale-%s-%u", r->vale[i].name, r->vale[i].gen);
		if (strcmp(want, fname) == 0)
			return false;
	}
	return true;
}

/* switch index of the member of switch `swi` called `name` ("valeS:P"),
 * or -1 */
static int member_find(uint32_t swi, const char *name);

/* full name of the member at switch index `j` */
static void member_name(uint32_t swi, uint32_t pidx, char *buf, size_t len)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *p = &r->ports[pidx];
	if (p->kind == UNM_PORT_VALE_PERSIST)
		snprintf(buf, len, "%s:%s", r->vale[swi].name, p->name);
	else
		snprintf(buf, len, "%s", p->name);
}

static int member_find(uint32_t swi, const char *name)
{
	const struct unm_vale_ent *e = &unm_registry()->vale[swi];
	for (uint32_t j = 0; j < UNM_VALE_MAXPORTS; j++) {
		char full[64];
		if (e->port[j] == UNM_NONE)
			continue;
		member_name(swi, e->port[j], full, sizeof(full));
		if (strcmp(full, name) == 0)
			return (int)j;
	}
	return -1;
}

/* ---- leases ------------------------------------------------------------------ */

#define lease_lock(kr)		unm_kr_lock(kr)
#define lease_unlock(kr)	unm_kr_unlock(kr)

/* first slot not yet reserved */
static inline uint32_t lease_end(const struct unm_kring *kr)
{
	if (kr->lease_first == kr->lease_last)
		return kr->hwtail;
	return kr->lease[(kr->lease_last - 1) % UNM_LEASES].end;
}

/* Publish every leading completed reservation (lock held).  Each step
 * stores hwtail before moving lease_first, so repeating a step after a
 * crash between the two stores changes nothing. */
static bool lease_advance(struct unm_kring *kr, const struct netmap_ring *ring, struct unm_bufs b)
{
	bool moved = false;
	while (kr->lease_first != kr->lease_last) {
		struct unm_lease *e = &kr->lease[kr->lease_first % UNM_LEASES];
		if (!__atomic_load_n(&e->done, __ATOMIC_ACQUIRE))
			break;
		kr->rx_frames += e->frames;
		kr->rx_bytes += e->bytes;
		e->frames = 0;
		e->bytes = 0;
		/* copy monitors see the frames in the order they arrive in
		 * the ring (reservation order) */
		unm_mon_copy(kr, ring, b, kr->hwtail, e->end);
		/* R1: slots copied by whoever completed the reservation are
		 * visible before the producer index (pairs with A1 in
		 * rxsync) */
		unm_store_release(&kr->hwtail, e->end);
		UNM_WRITE_ONCE(kr->lease_first, kr->lease_first + 1);
		moved = true;
	}
	if (moved)
		kr->stall_ns = 0;
	return moved;
}

/* Complete the reservations of dead processes as zero-length slots
 * (lock held).  Called when the oldest reservation looks stuck; asks the
 * kernel about its owner at most once per STALL_NS. */
static bool lease_reap(struct unm_kring *kr, struct netmap_ring *ring, struct unm_bufs b, bool now)
{
	if (kr->lease_first == kr->lease_last)
		return false;
	struct unm_lease *e = &kr->lease[kr->lease_first % UNM_LEASES];
	if (e->done || e->pid == unm_self_pid())
		return false;
	int64_t t = unm_now_ns();
	if (!now) {
		if (kr->stall_ns == 0) {
			kr->stall_ns = t;
			return false;
		}
		if (t - kr->stall_ns < STALL_NS)
			return false;
	}
	kr->stall_ns = t;
	bool reaped = false;
	uint32_t n = kr->num_slots;
	for (uint32_t i = kr->lease_first; i != kr->lease_last; i++) {
		struct unm_lease *l = &kr->lease[i % UNM_LEASES];
		if (l->done || unm_pid_alive((pid_t)l->pid))
			continue;
		for (uint32_t j = l->start; j != l->end; j = unm_nxt(j, n)) {
			ring->slot[j].len = 0;
			ring->slot[j].flags = 0;
		}
		kr->drop_dead += l->frames;
		l->frames = 0;
		l->bytes = 0;
		__atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
		reaped = true;
	}
	if (reaped)
		lease_advance(kr, ring, b);
	return reaped;
}

/* A ring stops accepting frames: wait until reservations in flight are
 * published (or their owners found dead).  Registry lock held; senders
 * never take it while holding a reservation. */
static void ring_close(struct unm_map *m, struct unm_kring *kr)
{
	struct netmap_ring *ring = unm_ring_ptr(m, kr->ring_obj);
	struct unm_bufs b = unm_map_bufs(m);
	lease_lock(kr);
	kr->open = 0;
	lease_unlock(kr);
	int64_t t0 = unm_now_ns();
	for (;;) {
		lease_lock(kr);
		bool empty = kr->lease_first == kr->lease_last;
		if (!empty)
			lease_reap(kr, ring, b, false);
		lease_unlock(kr);
		if (empty || unm_now_ns() - t0 > DRAIN_NS)
			break;
		usleep(100);
	}
}

/* ---- per-TX-ring cache of the switch --------------------------------------- */

struct vdst_ring {
	struct netmap_ring *ring;
	struct unm_kring *kr;
	uint32_t tag;
};

struct vdst {
	uint32_t port;		/* registry index, UNM_NONE if the index is free */
	uint32_t nrx;
	struct unm_map *map;
	char *buf_base;
	uint32_t buf_size, nbufs;
	struct vdst_ring rx[UNM_VALE_MAXRINGS];
};

struct vsw {
	struct swmap *sm;
	uint64_t *mac;
	uint32_t me;		/* my index in this switch */
	uint32_t nports;	/* highest used index + 1 */
	uint32_t nactive;
	uint8_t active[UNM_VALE_MAXPORTS];
	unetmap_vale_lookup_fn lookup;
	void *dl;
	uint32_t lookup_gen;
	struct vdst dst[UNM_VALE_MAXPORTS];
};

struct ft {
	uint32_t slot;		/* first slot in the TX ring */
	uint16_t nfrags;
	uint16_t next;		/* next frame for the same destination */
	uint32_t len;
};

#define FT_END 0xffff

struct vtx {
	struct unm_registry *r;
	uint32_t port;
	uint32_t gen;		/* vale_gen the view was built at */
	struct vsw *sw[2];
	uint32_t nf;
	struct ft ft[UNM_VALE_BATCH];
	uint16_t dhead[256], dtail[256];
	uint8_t used[256];
	uint32_t nused;
};

static void vdst_clear(struct vdst *d)
{
	unm_map_put(d->map);
	d->map = NULL;
	d->port = UNM_NONE;
	d->nrx = 0;
}

static void vsw_free(struct vsw *s)
{
	if (s == NULL)
		return;
	for (int j = 0; j < UNM_VALE_MAXPORTS; j++)
		vdst_clear(&s->dst[j]);
	if (s->dl != NULL)
		dlclose(s->dl);
	sw_put(s->sm);
	free(s);
}

/* Rebuild the view of attachment `a` (registry lock held). */
static void vsw_refresh(struct vtx *t, int a)
{
	struct unm_registry *r = t->r;
	struct unm_port *p = &r->ports[t->port];
	uint16_t swi = p->sw[a];
	struct vsw *s = t->sw[a];

	if (swi == UNM_NOSW || !r->vale[swi].live) {
		vsw_free(s);
		t->sw[a] = NULL;
		return;
	}
	if (s != NULL && (s->sm->swi != swi || s->sm->gen != r->vale[swi].gen)) {
		vsw_free(s);
		s = t->sw[a] = NULL;
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return;
		if (sw_get(swi, &s->sm) < 0) {
			free(s);
			return;
		}
		s->mac = s->sm->f->mac;
		for (int j = 0; j < UNM_VALE_MAXPORTS; j++)
			s->dst[j].port = UNM_NONE;
		t->sw[a] = s;
	}
	struct unm_vale_ent *e = &r->vale[swi];
	s->me = p->swport[a];
	s->nports = 0;
	s->nactive = 0;
	for (uint32_t j = 0; j < UNM_VALE_MAXPORTS; j++) {
		struct vdst *d = &s->dst[j];
		uint32_t pi = e->port[j];
		if (pi == UNM_NONE) {
			vdst_clear(d);
			continue;
		}
		struct unm_port *q = &r->ports[pi];
		if (d->map == NULL || d->map->mem_id != q->mem_id || d->map->gen != q->mem_gen) {
			unm_map_put(d->map);
			d->map = unm_map_get(q->mem_id, q->mem_gen);
		}
		if (d->map == NULL) {
			d->port = UNM_NONE;
			continue;
		}
		d->port = pi;
		d->nrx = q->nrx < UNM_VALE_MAXRINGS ? q->nrx : UNM_VALE_MAXRINGS;
		d->buf_base = d->map->base + d->map->meta->buf_off;
		d->buf_size = d->map->meta->p.buf_size;
		d->nbufs = d->map->meta->p.buf_num;
		for (uint32_t q2 = 0; q2 < d->nrx; q2++) {
			d->rx[q2].ring = unm_ring_ptr(d->map, q->rx_obj + q2);
			d->rx[q2].kr = unm_kring_ptr(d->map, q->rx_obj + q2);
			d->rx[q2].tag = d->rx[q2].kr->tag;
		}
		s->nports = j + 1;
		s->active[s->nactive++] = (uint8_t)j;
	}
	struct vale_file *f = s->sm->f;
	if (s->lookup_gen != f->lookup_gen || (s->lookup == NULL && f->lookup[0])) {
		if (s->dl != NULL)
			dlclose(s->dl);
		s->dl = NULL;
		s->lookup = NULL;
		char path[sizeof(f->lookup)];
		memcpy(path, f->lookup, sizeof(path));
		path[sizeof(path) - 1] = '\0';
		if (path[0] != '\0') {
			s->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
			if (s->dl != NULL) {
				void *sym = dlsym(s->dl, UNETMAP_VALE_LOOKUP_SYM);
				memcpy(&s->lookup, &sym, sizeof(sym));
			}
			if (s->lookup == NULL)	/* fall back to learning */
				unm_seterr("switch %s: cannot use lookup %s", e->name, path);
		}
		s->lookup_gen = f->lookup_gen;
	}
}

static void vtx_refresh(struct vtx *t, uint32_t gen)
{
	if (unm_lock() < 0)
		return;
	for (int a = 0; a < 2; a++)
		vsw_refresh(t, a);
	t->gen = gen;
	unm_unlock();
}

static void vale_kref_fini(struct unm_kref *k)
{
	struct vtx *t = k->priv;
	if (t == NULL)
		return;
	vsw_free(t->sw[0]);
	vsw_free(t->sw[1]);
	free(t);
	k->priv = NULL;
}

/* ---- forwarding ------------------------------------------------------------- */

static inline uint64_t mac48(const uint8_t *m)
{
	uint32_t lo;
	uint16_t hi;
	memcpy(&lo, m, 4);
	memcpy(&hi, m + 4, 2);
	return (uint64_t)lo | (uint64_t)hi << 32;
}

static inline uint32_t mac_hash(uint64_t m)
{
	return (uint32_t)((m * 0x9e3779b97f4a7c15ULL) >> (64 - MAC_BITS));
}

/* netmap's learning bridge */
static inline uint32_t learn_lookup(uint64_t *table, const uint8_t *buf, uint32_t me)
{
	if (!(buf[6] & 1)) {
		uint64_t src = mac48(buf + 6);
		uint64_t want = src | (uint64_t)(me + 1) << 48;
		uint64_t *slot = &table[mac_hash(src)];
		if (UNM_READ_ONCE(*slot) != want)
			UNM_WRITE_ONCE(*slot, want);
	}
	if (buf[0] & 1)
		return BCAST;
	uint64_t dst = mac48(buf);
	uint64_t e = UNM_READ_ONCE(table[mac_hash(dst)]);
	if ((e & 0xffffffffffffULL) == dst && (e >> 48) != 0)
		return (uint32_t)(e >> 48) - 1;
	return BCAST;
}

/* copy a fragment; short ones in whole 64-byte units, as netmap does, when
 * both buffers have room for the rounding */
static inline void frag_copy(char *dst, const char *src, uint32_t len, uint32_t room)
{
	uint32_t r = (len + 63) & ~63u;
	if (len < 1024 && r <= room) {
		for (uint32_t o = 0; o < r; o += 64)
			memcpy(dst + o, src + o, 64);
	} else {
		memcpy(dst, src, len);
	}
}

struct src_view {
	struct netmap_ring *ring;
	const struct unm_kring *kr;	/* for the OFFSETS option */
	uint32_t n;
	const char *buf_base;
	uint32_t buf_size;
	uint32_t hdr;		/* the sender's virtio-net header length */
};

/* Payload of a TX slot: its buffer, or for NS_INDIRECT the sender's own
 * memory at slot.ptr (as netmap; an invalid pointer faults in the sender,
 * the only process that dereferences it). */
static inline const char *src_data(const struct src_view *sv, const struct netmap_slot *ss)
{
	if (unm_unlikely(ss->flags & NS_INDIRECT))
		return (const char *)(uintptr_t)ss->ptr;
	const char *b = sv->buf_base + (uint64_t)ss->buf_idx * sv->buf_size;
	if (unm_unlikely(sv->kr->offset_mask != 0))
		b += unm_slot_offset(sv->kr, ss);
	return b;
}

/* frames on lists a and b (drop accounting only) */
static uint32_t list_count(const struct vtx *t, uint16_t a, uint16_t b)
{
	uint32_t n = 0;
	for (; a != FT_END; a = t->ft[a].next)
		n++;
	for (; b != FT_END; b = t->ft[b].next)
		n++;
	return n;
}

/* ---- virtio-net header mismatch (reference §4.7) ----------------------------- */

/* What frame i of the batch becomes at the destination being served:
 * slots (0: dropped as malformed), frames and bytes.  Slow path only. */
struct vnet_plan {
	uint32_t slots, frames;
	uint64_t bytes;
};
static __thread struct vnet_plan vnet_plans[UNM_VALE_BATCH];

/* the next frame of lists *a and *b merged in batch order, FT_END after
 * the last */
static inline uint16_t ft_merge_next(const struct vtx *t, uint16_t *a, uint16_t *b)
{
	uint16_t i;
	if (*b == FT_END || (*a != FT_END && *a < *b)) {
		i = *a;
		if (i != FT_END)
			*a = t->ft[i].next;
	} else {
		i = *b;
		*b = t->ft[i].next;
	}
	return i;
}

/* Plan frame x for a destination: its fragments in fr[] (each read once
 * and bounded by its buffer, whatever the sender does to the slot
 * meanwhile), then unm_vnet_plan().  -1 if the frame must be dropped,
 * also when one destination frame would need more than the 255 slots its
 * flags can count. */
#define VNET_MAXFRAGS	255	/* longest chain vale_txsync() cuts */

static int vnet_plan_frame(struct unm_vnet *v, const struct src_view *sv, const struct ft *x,
			   struct unm_vnet_frag *fr, uint32_t hs, uint32_t hd, uint32_t cap,
			   uint32_t mfs)
{
	if (x->nfrags > VNET_MAXFRAGS)
		return -1;
	uint32_t sj = x->slot;
	for (uint32_t k = 0; k < x->nfrags; k++) {
		const struct netmap_slot *ss = &sv->ring->slot[sj];
		uint32_t len = ss->len;
		fr[k].base = (const uint8_t *)src_data(sv, ss);
		if (!(ss->flags & NS_INDIRECT)) {
			uint64_t off = sv->kr->offset_mask != 0 ? unm_slot_offset(sv->kr, ss) : 0;
			uint32_t room = off < sv->buf_size ? sv->buf_size - (uint32_t)off : 0;
			if (len > room)
				len = room;
		}
		fr[k].len = len;
		sj = unm_nxt(sj, sv->n);
	}
	int ns = unm_vnet_plan(v, fr, x->nfrags, hs, hd, cap, mfs);
	return ns > 0 && v->frame_slots <= 255 ? ns : -1;
}

/* The steps of a reservation that deliver() and deliver_vnet() share. */

/* Lock ring kr of destination dv for a reservation: it must be open, in
 * its life `tag`, with a free lease entry.  True with the lock held and the
 * first free slot in *start, the free slots in *avail; false (unlocked) if
 * the ring is closed (*closed) or has no free entry. */
static inline bool lease_open(struct unm_kring *kr, struct netmap_ring *ring, const struct vdst *dv,
			      uint32_t tag, uint32_t *start, uint32_t *avail, bool *closed)
{
	const uint32_t n = kr->num_slots;
	lease_lock(kr);
	*closed = !kr->open || kr->tag != tag;
	if (*closed) {
		lease_unlock(kr);
		return false;
	}
	if (kr->lease_first != kr->lease_last)
		lease_reap(kr, ring, unm_map_bufs(dv->map),
			   kr->lease_last - kr->lease_first >= UNM_LEASES);
	if (kr->lease_last - kr->lease_first >= UNM_LEASES) {
		lease_unlock(kr);
		return false;
	}
	*start = lease_end(kr);
	/* A2: the receiver's released slots (pairs with R2 in rxsync) */
	uint32_t cons = unm_load_acquire(&kr->hwcur);
	*avail = unm_dist(*start, unm_prv(cons, n), n);
	return true;
}

/* Record reservation [start, start + tslots) and let the lock go. */
static inline struct unm_lease *lease_commit(struct unm_kring *kr, uint32_t start, uint32_t tslots,
					     uint32_t frames, uint64_t bytes)
{
	uint32_t li = kr->lease_last;
	struct unm_lease *e = &kr->lease[li % UNM_LEASES];
	e->start = start;
	e->end = (start + tslots) % kr->num_slots;
	e->pid = unm_self_pid();
	e->frames = frames;
	e->bytes = bytes;
	__atomic_store_n(&e->done, 0, __ATOMIC_RELAXED);
	/* commit: the reservation exists from this store on */
	UNM_WRITE_ONCE(kr->lease_last, li + 1);
	lease_unlock(kr);
	return e;
}

/* The slots of reservation e are written: publish them (in reservation
 * order) and wake the receiver. */
static inline void lease_publish(struct unm_kring *kr, struct netmap_ring *ring,
				 const struct vdst *dv, struct unm_lease *e)
{
	lease_lock(kr);
	__atomic_store_n(&e->done, 1, __ATOMIC_RELEASE);
	lease_advance(kr, ring, unm_map_bufs(dv->map));
	lease_unlock(kr);
	unm_notify(kr);
}

/* deliver() for a destination whose header length hd differs from the
 * source's hs: every frame is converted (header rewritten, GSO frames
 * segmented, checksums completed) into as many destination slots as it
 * needs, planned before the reservation and written after it.  Same lease
 * protocol as deliver(); a frame that does not fit is dropped whole. */
__attribute__((noinline))	/* keep it out of deliver()'s fast path */
static void deliver_vnet(struct vtx *t, struct unm_kring *skr, const struct src_view *sv,
			 struct vdst *dv, struct vdst_ring *vr, uint16_t head, uint16_t bhead,
			 uint32_t hs, uint32_t hd)
{
	struct unm_kring *kr = vr->kr;
	struct netmap_ring *ring = vr->ring;
	const uint32_t n = kr->num_slots, bsz = dv->buf_size, nb = dv->nbufs;
	/* every slot of a frame fits one destination buffer, after the
	 * largest data offset the receiver may have put in it */
	const uint64_t omax = kr->offset_mask != 0 ? kr->offset_max : 0;
	const uint32_t cap = omax < bsz ? bsz - (uint32_t)omax : 0;
	const uint32_t mfs = hd != 0 ? bsz : UNM_VNET_MFS_DEFAULT;
	struct unm_vnet v;
	struct unm_vnet_frag fr[VNET_MAXFRAGS];
	uint32_t nvalid = 0, nbad = 0;
	uint16_t a = head, b = bhead, i;

	while ((i = ft_merge_next(t, &a, &b)) != FT_END) {
		struct vnet_plan *p = &vnet_plans[i];
		int ns = vnet_plan_frame(&v, sv, &t->ft[i], fr, hs, hd, cap, mfs);
		if (ns < 0) {
			p->slots = 0;
			nbad++;
			continue;
		}
		*p = (struct vnet_plan){ .slots = (uint32_t)ns, .frames = v.nframes,
					 .bytes = v.out_bytes };
		nvalid++;
	}
	skr->drop_malformed += nbad;
	if (nvalid == 0)
		return;

	uint32_t start, avail;
	bool closed;
	if (!lease_open(kr, ring, dv, vr->tag, &start, &avail, &closed)) {
		if (closed)
			skr->drop_closed += nvalid;
		else
			skr->drop_full += nvalid;
		return;
	}
	/* whole converted frames that fit, up to the first that does not */
	uint32_t tslots = 0, frames = 0, taken = 0;
	uint64_t bytes = 0;
	uint16_t stop = FT_END;
	a = head;
	b = bhead;
	while ((i = ft_merge_next(t, &a, &b)) != FT_END) {
		const struct vnet_plan *p = &vnet_plans[i];
		if (p->slots == 0)
			continue;
		if (p->slots > avail - tslots) {
			stop = i;
			break;
		}
		tslots += p->slots;
		frames += p->frames;
		bytes += p->bytes;
		taken++;
	}
	if (taken == 0) {
		lease_unlock(kr);
		skr->drop_full += nvalid;
		return;
	}
	struct unm_lease *e = lease_commit(kr, start, tslots, frames, bytes);
	skr->drop_full += nvalid - taken;	/* did not fit */

	/* convert, outside the lock: plan each frame again (same fragments,
	 * same answer) and write its slots.  Should the sender have changed
	 * the frame meanwhile, its reserved slots are filled with empty
	 * frames instead. */
	uint32_t pos = start;
	a = head;
	b = bhead;
	while ((i = ft_merge_next(t, &a, &b)) != stop) {
		const struct vnet_plan *p = &vnet_plans[i];
		if (p->slots == 0)
			continue;
		bool same = vnet_plan_frame(&v, sv, &t->ft[i], fr, hs, hd, cap, mfs) ==
			    (int)p->slots;
		for (uint32_t k = 0; k < p->slots; k++) {
			struct netmap_slot *ds = &ring->slot[pos];
			uint32_t len = 0, fs = 1;
			bool more = false;
			if (same) {
				uint32_t didx = UNM_READ_ONCE(ds->buf_idx);
				uint8_t *dst = NULL;
				if (didx - 2 < nb - 2) {
					dst = (uint8_t *)dv->buf_base + (uint64_t)didx * bsz;
					if (unm_unlikely(kr->offset_mask != 0))
						dst += unm_slot_offset(kr, ds);
				}
				len = unm_vnet_next(&v, dst, &more);
				if (dst == NULL)
					len = 0;	/* the receiver broke the slot */
				fs = v.frame_slots;
			}
			ds->len = (uint16_t)len;
			ds->flags = (uint16_t)(fs << 8 | (more ? NS_MOREFRAG : 0));
			pos = unm_nxt(pos, n);
		}
	}
	lease_publish(kr, ring, dv, e);
}

/* Deliver the frames of list `head` (merged in order with list `bhead`,
 * may be FT_END) to ring `q` of destination `d`. */
static void deliver(struct vtx *t, struct vsw *s, struct unm_kring *skr,
		    const struct src_view *sv, uint32_t d, uint32_t q, uint16_t head,
		    uint16_t bhead)
{
	struct vdst *dv = &s->dst[d];
	if (dv->port == UNM_NONE || dv->nrx == 0) {
		skr->drop_closed += list_count(t, head, bhead);
		return;
	}
	struct vdst_ring *vr = &dv->rx[q % dv->nrx];
	/* ports with different virtio-net header lengths: the slow path */
	uint32_t hs = UNM_READ_ONCE(t->r->ports[t->port].hdr_len);
	uint32_t hd = UNM_READ_ONCE(t->r->ports[dv->port].hdr_len);
	if (unm_unlikely(hs != hd)) {
		deliver_vnet(t, skr, sv, dv, vr, head, bhead, hs, hd);
		return;
	}
	struct unm_kring *kr = vr->kr;
	struct netmap_ring *ring = vr->ring;
	uint32_t n = kr->num_slots;

	uint32_t start, avail;
	bool closed;
	if (!lease_open(kr, ring, dv, vr->tag, &start, &avail, &closed)) {
		if (closed)
			skr->drop_closed += list_count(t, head, bhead);
		else
			skr->drop_full += list_count(t, head, bhead);
		return;
	}
	/* whole frames that fit */
	uint32_t take = 0, tslots = 0;
	uint64_t bytes = 0;
	uint16_t a = head, b = bhead;
	while (a != FT_END || b != FT_END) {
		uint16_t i = (b == FT_END || (a != FT_END && a < b)) ? a : b;
		if (tslots + t->ft[i].nfrags > avail)
			break;
		tslots += t->ft[i].nfrags;
		bytes += t->ft[i].len;
		take++;
		if (i == a)
			a = t->ft[a].next;
		else
			b = t->ft[b].next;
	}
	if (take == 0) {
		lease_unlock(kr);
		skr->drop_full += list_count(t, head, bhead);
		return;
	}
	struct unm_lease *e = lease_commit(kr, start, tslots, take, bytes);
	if (a != FT_END || b != FT_END)
		skr->drop_full += list_count(t, a, b);	/* did not fit */
	fault(F_AFTER_RESERVE);

	/* copy, outside the lock.  The destination slots and buffers were
	 * last touched by the receiver's core: slot lines are requested for
	 * writing SLOT_AHEAD slots ahead and buffers BUF_AHEAD slots ahead (a
	 * buffer's address needs its slot), so the misses overlap instead
	 * of coming one after the other. */
#define SLOT_AHEAD 32
#define BUF_AHEAD 16
	uint32_t pos = start, nb = dv->nbufs, bsz = dv->buf_size;
	for (uint32_t j = 0, p = start; j < tslots && j < SLOT_AHEAD; j += 4, p = (p + 4) % n)
		unm_prefetchw(&ring->slot[p]);
	for (uint32_t j = 0, p = start; j < tslots && j < BUF_AHEAD; j++, p = unm_nxt(p, n)) {
		uint32_t bi = UNM_READ_ONCE(ring->slot[p].buf_idx);
		if (bi < nb)
			unm_prefetchw(dv->buf_base + (uint64_t)bi * bsz);
	}
	uint32_t done = 0;
	a = head;
	b = bhead;
	for (uint32_t f = 0; f < take; f++) {
		uint16_t i;
		if (b == FT_END || (a != FT_END && a < b)) {
			i = a;
			a = t->ft[a].next;
		} else {
			i = b;
			b = t->ft[b].next;
		}
		const struct ft *x = &t->ft[i];
		uint32_t sj = x->slot;
		for (uint32_t k = 0; k < x->nfrags; k++) {
			const struct netmap_slot *ss = &sv->ring->slot[sj];
			struct netmap_slot *ds = &ring->slot[pos];
			uint32_t didx = UNM_READ_ONCE(ds->buf_idx);
			uint32_t len = ss->len;
			uint32_t doff = 0;
			if (unm_unlikely(kr->offset_mask != 0))
				doff = (uint32_t)unm_slot_offset(kr, ds);
			if (unm_likely(didx - 2 < nb - 2 && len + doff <= bsz)) {
				/* rounding the copy up is fine inside buffers,
				 * not past the end of a user's indirect data */
				uint32_t room = ss->flags & NS_INDIRECT ? len :
						bsz < sv->buf_size ? bsz : sv->buf_size;
				if (doff != 0 || sv->kr->offset_mask != 0)
					room = len;	/* not past a buffer's end */
				frag_copy(dv->buf_base + (uint64_t)didx * bsz + doff, src_data(sv, ss),
					  len, room);
			} else {
				len = 0;	/* no room, or the receiver broke the slot */
			}
			if (done + SLOT_AHEAD < tslots && ((done + SLOT_AHEAD) & 3) == 0)
				unm_prefetchw(&ring->slot[(pos + SLOT_AHEAD) % n]);
			if (done + BUF_AHEAD < tslots) {
				uint32_t bi = UNM_READ_ONCE(ring->slot[(pos + BUF_AHEAD) % n].buf_idx);
				if (bi < nb)
					unm_prefetchw(dv->buf_base + (uint64_t)bi * bsz);
			}
			done++;
			ds->len = (uint16_t)len;
			ds->flags = (uint16_t)(x->nfrags << 8 |
					       (k + 1 < x->nfrags ? NS_MOREFRAG : 0));
			sj = unm_nxt(sj, sv->n);
			pos = unm_nxt(pos, n);
		}
		if (f == 0)
			fault(F_MID_COPY);	/* one frame copied, the rest not */
	}
	fault(F_BEFORE_PUBLISH);
	lease_publish(kr, ring, dv, e);
}

/* Forward the frames of ft[0..nf) into the switch of attachment `s`. */
static void forward(struct vtx *t, struct vsw *s, struct unm_kring *skr,
		    const struct src_view *sv, uint32_t ringid)
{
	uint32_t me = s->me;
	t->nused = 0;
	for (uint32_t i = 0; i < t->nf; i++) {
		struct ft *x = &t->ft[i];
		const struct netmap_slot *fs = &sv->ring->slot[x->slot];
		const uint8_t *buf = (const uint8_t *)src_data(sv, fs);
		uint32_t blen = fs->len;
		if (unm_unlikely(sv->hdr != 0)) {
			/* the Ethernet header follows the virtio-net header, in
			 * the same slot or (a header-only slot) in the next */
			if (blen > sv->hdr) {
				buf += sv->hdr;
				blen -= sv->hdr;
			} else {
				fs = &sv->ring->slot[unm_nxt(x->slot, sv->n)];
				buf = (const uint8_t *)src_data(sv, fs);
				blen = fs->len;
			}
		}
		uint32_t d;
		if (unm_likely(s->lookup == NULL)) {
			d = learn_lookup(s->mac, buf, me);
		} else {
			uint8_t rg = (uint8_t)ringid;
			d = s->lookup(buf, blen, me, &rg, s->nports);
			if (d < UNM_VALE_MAXPORTS && rg != (uint8_t)ringid)
				d |= (uint32_t)rg << 16 | 1u << 31;	/* explicit ring */
		}
		uint32_t key = d & 0xffff;
		if (key == NOPORT || key == me || key > BCAST)
			continue;	/* dropped by the lookup, or back to its source */
		if (d >> 31) {
			/* a lookup-chosen ring: deliver this frame alone */
			x->next = FT_END;
			deliver(t, s, skr, sv, key, (d >> 16) & 0xff, (uint16_t)i, FT_END);
			continue;
		}
		x->next = FT_END;
		if (t->dhead[key] == FT_END) {
			t->dhead[key] = (uint16_t)i;
			t->used[t->nused++] = (uint8_t)key;
		} else {
			t->ft[t->dtail[key]].next = (uint16_t)i;
		}
		t->dtail[key] = (uint16_t)i;
	}
	uint16_t bhead = t->dhead[BCAST];
	if (bhead != FT_END) {
		/* broadcast: ring 0 of every other port, merged in order with
		 * that port's unicast frames when those go to ring 0 too */
		for (uint32_t k = 0; k < s->nactive; k++) {
			uint32_t d = s->active[k];
			if (d == me)
				continue;
			uint16_t uh = t->dhead[d];
			uint32_t nrx = s->dst[d].nrx ? s->dst[d].nrx : 1;
			if (uh != FT_END && ringid % nrx != 0) {
				deliver(t, s, skr, sv, d, ringid, uh, FT_END);
				uh = FT_END;
			}
			deliver(t, s, skr, sv, d, 0, uh, bhead);
		}
		/* unicast to ports that left the switch */
		for (uint32_t k = 0; k < t->nused; k++) {
			uint32_t d = t->used[k];
			if (d != BCAST && s->dst[d].port == UNM_NONE)
				deliver(t, s, skr, sv, d, ringid, t->dhead[d], FT_END);
		}
	} else {
		for (uint32_t k = 0; k < t->nused; k++) {
			uint32_t d = t->used[k];
			deliver(t, s, skr, sv, d, ringid, t->dhead[d], FT_END);
		}
	}
	for (uint32_t k = 0; k < t->nused; k++)
		t->dhead[t->used[k]] = FT_END;
}

/* A frame of cnt slots from `start` holds a whole Ethernet header after
 * its virtio-net header of hdr bytes (in the first slot, or in the second
 * when the first is exactly the virtio-net header) */
static inline bool l2_ok(const struct netmap_ring *ring, uint32_t start, uint32_t cnt, uint32_t n,
			 uint32_t hdr)
{
	uint32_t l0 = ring->slot[start].len;
	if (unm_likely(hdr == 0))
		return l0 >= 14;
	if (l0 > hdr)
		return l0 >= hdr + 14;
	return l0 == hdr && cnt >= 2 && ring->slot[unm_nxt(start, n)].len >= 14;
}

static struct vtx *vtx_get(struct unm_kref *k)
{
	struct vtx *t = k->priv;
	if (unm_likely(t != NULL))
		return t;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->r = unm_registry();
	t->port = k->kr->port;
	t->gen = UINT32_MAX;
	memset(t->dhead, 0xff, sizeof(t->dhead));
	k->priv = t;
	return t;
}

static int vale_txsync(struct unm_fd *f, struct unm_kref *k)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	const uint32_t n = kr->num_slots;
	const struct unm_region_meta *mt = f->map->meta;
	const uint32_t nbufs = mt->p.buf_num, bufsize = mt->p.buf_size;
	uint32_t head;

	if (unm_unlikely(unm_tx_prologue(k, &head) < 0)) {
		unm_ring_reinit(k, nbufs, bufsize);
		return -1;
	}
	uint32_t i = kr->hwcur;
	if (i != head) {
		unm_mon_copy(kr, ring, unm_map_bufs(f->map), i, head);
		struct vtx *t = vtx_get(k);
		if (unm_unlikely(t == NULL))
			return 0;
		uint32_t g = unm_load_acquire(&t->r->vale_gen);
		if (unm_unlikely(g != t->gen))
			vtx_refresh(t, g);
		struct src_view sv = {
			.ring = ring, .kr = kr, .n = n,
			.buf_base = f->map->base + mt->buf_off, .buf_size = bufsize,
			.hdr = UNM_READ_ONCE(t->r->ports[t->port].hdr_len),
		};
		uint64_t txf = 0, txb = 0, bad = 0;
		while (i != head) {
			/* pass 1: frames of this batch */
			uint32_t nslots = 0;
			t->nf = 0;
			while (i != head && t->nf < UNM_VALE_BATCH && nslots < UNM_VALE_BATCH) {
				uint32_t start = i, cnt = 0, len = 0;
				bool ok = true;
				const struct netmap_slot *s;
				do {
					s = &ring->slot[i];
					ok &= ((s->buf_idx - 2 < nbufs - 2) |
					       !!(s->flags & NS_INDIRECT)) & (s->len <= bufsize);
					if (unm_unlikely(kr->offset_mask != 0) &&
					    !(s->flags & NS_INDIRECT))
						ok &= s->len + unm_slot_offset(kr, s) <= bufsize;
					len += s->len;
					cnt++;
					i = unm_nxt(i, n);
				} while ((s->flags & NS_MOREFRAG) && i != head && cnt < 255);
				nslots += cnt;
				if (unm_unlikely(!ok || !l2_ok(ring, start, cnt, n, sv.hdr))) {
					bad++;
					continue;
				}
				t->ft[t->nf++] = (struct ft){ .slot = start, .nfrags = (uint16_t)cnt,
							      .len = len };
				txb += len;
			}
			txf += t->nf;
			/* pass 2, per switch this port is in */
			for (int a = 0; a < 2; a++)
				if (t->sw[a] != NULL)
					forward(t, t->sw[a], kr, &sv, kr->ringid);
			if (t->sw[0] == NULL && t->sw[1] == NULL)
				kr->drop_closed += t->nf;	/* not in any switch */
		}
		kr->tx_frames += txf;
		kr->tx_bytes += txb;
		kr->drop_malformed += bad;
	}
	/* every slot is free again right after the sync: zero-copy
	 * monitors see the frames now (netmap: VALE TX immediately) */
	unm_zmon_pass(f->map, kr, ring, kr->hwcur, head, 1);
	UNM_WRITE_ONCE(kr->hwcur, head);
	uint32_t tail = unm_prv(head, n);
	UNM_WRITE_ONCE(kr->rtail, tail);
	kr->tx_hwtail = tail;
	unm_store_release(&ring->tail, tail);
	return 0;
}

static __thread uint32_t idle_rx_syncs;

static int vale_rxsync(struct unm_fd *f, struct unm_kref *k)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	const struct unm_region_meta *mt = f->map->meta;
	uint32_t head;
	int ret = 0;

	if (unm_unlikely(unm_rx_prologue(k, &head) < 0)) {
		unm_ring_reinit(k, mt->p.buf_num, mt->p.buf_size);
		head = kr->hwcur;
		ret = -1;
	}
	/* nothing new while reservations are pending: their owner may be
	 * dead (checked now and then, not at every empty sync) */
	if (UNM_READ_ONCE(kr->hwtail) == kr->rtail &&
	    UNM_READ_ONCE(kr->lease_first) != UNM_READ_ONCE(kr->lease_last) &&
	    (++idle_rx_syncs & 63) == 0) {
		lease_lock(kr);
		lease_reap(kr, ring, unm_map_bufs(f->map), false);
		lease_unlock(kr);
	}
	/* released slots: to the zero-copy monitors before the senders */
	unm_zmon_pass(f->map, kr, ring, kr->hwcur, head, 0);
	unm_rx_import(k, head);
	return ret;
}

static bool vale_ready(const struct unm_kref *k)
{
	const struct unm_kring *kr = k->kr;
	if (kr->dir == NR_RX)
		return UNM_READ_ONCE(kr->hwtail) != UNM_READ_ONCE(kr->rtail);
	return true;	/* a VALE TX ring is free again after every sync */
}

/* the number of bound registrations of a ring changed */
static void vale_bind(struct unm_map *m, struct unm_kring *kr)
{
	bool want = kr->users > 0;
	if (want == (kr->open != 0))
		return;
	if (kr->dir == NR_TX) {
		/* a new first user starts after whatever the previous users
		 * queued: slots a killed sender had forwarded but not yet
		 * accounted are not sent again */
		kr->open = want;
		struct netmap_ring *ring = unm_ring_ptr(m, kr->ring_obj);
		uint32_t head = ring->head, n = kr->num_slots;
		if (want && head < n) {
			ring->cur = head;
			kr->hwcur = kr->rhead = head;
			kr->rtail = kr->tx_hwtail = unm_prv(head, n);
			ring->tail = kr->rtail;
		}
		return;
	}
	if (want) {
		lease_lock(kr);
		kr->open = 1;
		lease_unlock(kr);
	} else {
		ring_close(m, kr);
	}
}

static void vale_destroy(uint32_t port);

const struct unm_port_ops unm_vale_ops = {
	.name = "vale",
	.txsync = vale_txsync,
	.rxsync = vale_rxsync,
	.ready = vale_ready,
	.destroy = vale_destroy,
	.bind = vale_bind,
	.kref_fini = vale_kref_fini,
};

/* ---- ports ------------------------------------------------------------------- */

/* rings and buffers of a new VALE port in region `mem`; commits the port */
static int port_rings(struct unm_port *p, uint32_t idx)
{
	struct unm_registry *r = unm_registry();
	struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
	if (m == NULL)
		return -ENOMEM;
	uint64_t need = (uint64_t)p->ntx * p->tx_slots + (uint64_t)p->nrx * p->rx_slots;
	int ret;
	if (need > m->meta->buf_free) {
		unm_seterr("buffer pool of memory region %u exhausted: port %s needs %llu "
			   "buffers, %u free (set UNETMAP_BUF_NUM)", p->mem_id, p->name,
			   (unsigned long long)need, m->meta->buf_free);
		unm_map_put(m);
		return -ENOMEM;
	}
	if ((ret = unm_ring_alloc(m, p->ntx, p->tx_slots, &p->tx_obj)) < 0) {
		unm_map_put(m);
		return ret;
	}
	if ((ret = unm_ring_alloc(m, p->nrx, p->rx_slots, &p->rx_obj)) < 0) {
		unm_ring_free(m, p->tx_obj, p->ntx);
		p->tx_obj = UNM_NONE;
		unm_map_put(m);
		return ret;
	}
	for (uint32_t i = 0; i < p->ntx; i++)
		unm_ring_init(m, p->tx_obj + i, idx, NR_TX, i, p->tx_slots, true);
	for (uint32_t i = 0; i < p->nrx; i++) {
		unm_ring_init(m, p->rx_obj + i, idx, NR_RX, i, p->rx_slots, true);
		struct unm_kring *kr = unm_kring_ptr(m, p->rx_obj + i);
		if (++r->ring_tag == 0)
			r->ring_tag = 1;
		kr->tag = r->ring_tag;
	}
	unm_map_put(m);
	return 0;
}

static void port_rings_free(struct unm_port *p)
{
	struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
	if (m == NULL)
		return;
	for (uint32_t i = 0; p->tx_obj != UNM_NONE && i < p->ntx; i++)
		unm_ring_fini(m, p->tx_obj + i, true);
	for (uint32_t i = 0; p->rx_obj != UNM_NONE && i < p->nrx; i++) {
		struct unm_kring *kr = unm_kring_ptr(m, p->rx_obj + i);
		if (kr->open)
			ring_close(m, kr);
		kr->tag = 0;
		unm_ring_fini(m, p->rx_obj + i, true);
	}
	unm_map_put(m);
}

/* A new port with rings in its own region (or `mem_id`); not committed. */
static int port_new(const char *name, uint32_t kind, uint16_t mem_id, mode_t mode,
		    uint32_t ntx, uint32_t nrx, uint32_t txs, uint32_t rxs, uint32_t *out)
{
	struct unm_registry *r = unm_registry();
	uint16_t mem = mem_id;
	uint32_t idx;
	int ret;
	ntx = unm_bound(ntx, 1, 1, UNM_VALE_MAXRINGS);
	nrx = unm_bound(nrx, 1, 1, UNM_VALE_MAXRINGS);
	txs = unm_bound(txs, UNM_DEF_SLOTS, 1, UNM_MAX_SLOTS);
	rxs = unm_bound(rxs, UNM_DEF_SLOTS, 1, UNM_MAX_SLOTS);
	if (mem != 0) {
		if ((ret = unm_mem_get_locked(mem)) < 0)
			return ret;
	} else {
		/* room for the port's rings and about two pipe pairs */
		uint64_t bufs = 3 * ((uint64_t)ntx * txs + (uint64_t)nrx * rxs) + 1024;
		if ((ret = unm_mem_create_sized_locked((uint32_t)bufs, ntx + nrx + 32, mode,
						       &mem)) < 0)
			return ret;
	}
	unm_mem_ref_locked(mem);
	if ((ret = unm_port_alloc_locked(&idx)) < 0) {
		unm_mem_unref_locked(mem);
		return ret;
	}
	struct unm_port *p = &r->ports[idx];
	p->kind = kind;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->mem_id = mem;
	p->mem_gen = r->mems[mem].gen;
	p->ntx = ntx;
	p->nrx = nrx;
	p->tx_slots = txs;
	p->rx_slots = rxs;
	p->sw[0] = p->sw[1] = UNM_NOSW;
	p->swport[0] = p->swport[1] = UNM_NOSW;
	if ((ret = port_rings(p, idx)) < 0) {
		memset(p, 0, sizeof(*p));
		unm_mem_unref_locked(mem);
		return ret;
	}
	*out = idx;
	return 0;
}

static int sw_join(uint32_t swi, uint32_t pidx, int a)
{
	struct unm_registry *r = unm_registry();
	struct unm_vale_ent *e = &r->vale[swi];
	uint32_t j;
	for (j = 0; j < UNM_VALE_MAXPORTS; j++)
		if (e->port[j] == UNM_NONE)
			break;
	if (j == UNM_VALE_MAXPORTS) {
		unm_seterr("switch %s is full (%d ports)", e->name, UNM_VALE_MAXPORTS);
		return -ENOMEM;
	}
	struct unm_port *p = &r->ports[pidx];
	p->sw[a] = (uint16_t)swi;
	p->swport[a] = (uint16_t)j;
	e->port[j] = pidx;
	e->nactive++;
	vale_gen_bump();
	return 0;
}

static void sw_leave(uint32_t pidx, int a)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *p = &r->ports[pidx];
	uint32_t swi = p->sw[a], j = p->swport[a];
	if (swi >= UNM_VALE_MAXSW)
		return;
	struct unm_vale_ent *e = &r->vale[swi];
	if (j < UNM_VALE_MAXPORTS && e->port[j] == pidx) {
		e->port[j] = UNM_NONE;
		if (e->nactive)
			e->nactive--;
		/* forget the addresses learned on it */
		struct swmap *sm;
		if (sw_get(swi, &sm) == 0) {
			for (uint32_t h = 0; h < MAC_ENTRIES; h++)
				if ((sm->f->mac[h] >> 48) == j + 1)
					UNM_WRITE_ONCE(sm->f->mac[h], 0);
			sw_put(sm);
		}
	}
	p->sw[a] = p->swport[a] = UNM_NOSW;
	vale_gen_bump();
	sw_remove_if_empty(swi);
}

static void port_free(uint32_t idx)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *p = &r->ports[idx];
	for (int a = 1; a >= 0; a--)
		if (p->sw[a] != UNM_NOSW)
			sw_leave(idx, a);
	port_rings_free(p);
	uint16_t mem = p->mem_id;
	memset(p, 0, sizeof(*p));
	unm_mem_unref_locked(mem);
}

/* last registration gone (or a query's temporary port): an ephemeral port
 * goes once no pipe uses it either; a persistent one stays */
static void vale_destroy(uint32_t idx)
{
	struct unm_port *p = &unm_registry()->ports[idx];
	if (p->kind == UNM_PORT_VALE && p->refs == 0 && p->children == 0 && p->vnic.role == 0)
		port_free(idx);
}

void unm_vale_put_if_unused_locked(uint32_t idx)
{
	vale_destroy(idx);
}

static struct unm_port *persist_find(const char *name)
{
	struct unm_port *p = unm_port_find_locked(name);
	return p != NULL && p->kind == UNM_PORT_VALE_PERSIST ? p : NULL;
}

/* The port `name` = valeS:P; created (with its switch) when `create`. */
int unm_vale_lookup_locked(const char *name, struct nmreq_register *req, bool create,
			   bool for_register, uint32_t *port_out)
{
	struct unm_registry *r = unm_registry();
	char sw[16], pn[16];
	int ret = parse(name, sw, pn);
	if (ret < 0)
		return ret;
	if (for_register)
		unm_vale_fault_init();
	int swi = sw_find(sw);
	if (swi >= 0) {
		/* the switch's file mode is who may use it */
		if ((ret = sw_access((uint32_t)swi)) < 0)
			return ret;
		int j = member_find((uint32_t)swi, name);
		if (j >= 0) {
			*port_out = r->vale[swi].port[j];
			return 0;
		}
	}
	if (!create) {
		unm_seterr("no VALE port %s", name);
		return -ENXIO;
	}
	if (persist_find(pn) != NULL || if_nametoindex(pn) != 0) {
		unm_seterr("%s is an interface: attach it with VALE_ATTACH (vale-ctl -a)", pn);
		return -EINVAL;
	}
	if (req->nr_mem_id != 0 && (ret = unm_mem_get_locked(req->nr_mem_id)) < 0)
		return ret;
	uint32_t s = (uint32_t)swi;
	if (swi >= 0 && r->vale[s].nactive >= UNM_VALE_MAXPORTS) {
		unm_seterr("switch %s is full (%d ports)", sw, UNM_VALE_MAXPORTS);
		return -ENOMEM;
	}
	/* created on demand; on failure a switch nobody joined goes again */
	if (swi < 0 && (ret = sw_create(sw, &s)) < 0)
		return ret;
	uint32_t idx;
	ret = port_new(name, UNM_PORT_VALE, req->nr_mem_id, sw_mode(s), req->nr_tx_rings,
		       req->nr_rx_rings, req->nr_tx_slots, req->nr_rx_slots, &idx);
	if (ret == 0 && (ret = sw_join(s, idx, 0)) < 0)
		port_free(idx);
	if (ret < 0) {
		sw_remove_if_empty(s);
		return ret;
	}
	r->ports[idx].ready = 1;	/* commit */
	*port_out = idx;
	return 0;
}

/* ---- network interfaces attached to a switch (helper: vale_nic.c) ----------------- */

/* The NIC requests wait for the helper without the registry lock and take
 * it again; if that fails, unm_vale_ctl() must not unlock. */
static __thread bool relock_failed;

static int relock(void)
{
	int ret = unm_lock();
	relock_failed = ret < 0;
	return ret;
}

/* the attachment (port valeS:IF) of interface `ifname`, on any switch */
static struct unm_port *vnic_find(const char *ifname)
{
	struct unm_registry *r = unm_registry();
	for (uint32_t i = 0; i < r->port_hwm; i++) {
		struct unm_port *p = &r->ports[i];
		if (p->kind == UNM_PORT_VALE && p->vnic.role == UNM_VNIC_NIC &&
		    strcmp(p->vnic.ifname, ifname) == 0)
			return p;
	}
	return NULL;
}

/* is port idx still attachment `gen`? */
static bool vnic_is(uint32_t idx, uint32_t gen)
{
	const struct unm_port *p = &unm_registry()->ports[idx];
	return p->kind == UNM_PORT_VALE && p->vnic.role == UNM_VNIC_NIC && p->vnic.gen == gen;
}

/* End attachment idx (its helper is gone): its ports leave the switch and
 * are freed, or become ordinary ports freed with their last registration. */
static void vnic_remove(uint32_t idx)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *p = &r->ports[idx];
	uint32_t ports[2] = { idx, p->vnic.peer_port };
	uint32_t gen = p->vnic.gen;
	for (int i = 0; i < 2; i++) {
		uint32_t x = ports[i];
		if (x >= UNM_MAX_PORTS)
			continue;
		struct unm_port *q = &r->ports[x];
		if (q->kind != UNM_PORT_VALE || q->vnic.role == 0 || q->vnic.gen != gen)
			continue;
		memset(&q->vnic, 0, sizeof(q->vnic));
		if (q->refs == 0 && q->children == 0) {
			port_free(x);
			continue;
		}
		for (int a = 1; a >= 0; a--)
			if (q->sw[a] != UNM_NOSW)
				sw_leave(x, a);
	}
	unm_vnic_fifo_remove(idx, gen);
}

/* VALE_ATTACH of interface `ifn` to switch `sw` (name valeS:IF). */
static int nic_attach(struct nmreq_header *hdr, struct nmreq_vale_attach *b, const char *sw,
		      const char *ifn)
{
	struct unm_registry *r = unm_registry();
	uint32_t mode = b->reg.nr_mode;
	int ret;
	if ((mode != NR_REG_ALL_NIC && mode != NR_REG_NIC_SW) ||
	    (b->reg.nr_ringid & NETMAP_RING_MASK) != 0) {
		unm_seterr("%s: a network interface is attached in mode ALL_NIC or NIC_SW, "
			   "ring 0", hdr->nr_name);
		return -EINVAL;
	}
	bool host = mode == NR_REG_NIC_SW;
	if (b->reg.nr_mem_id != 0 && (ret = unm_mem_get_locked(b->reg.nr_mem_id)) < 0)
		return ret;
	int swi = sw_find(sw);
	if (swi >= 0 && (ret = sw_access((uint32_t)swi)) < 0)
		return ret;
	if (swi >= 0 && member_find((uint32_t)swi, hdr->nr_name) >= 0) {
		unm_seterr("%s is already attached to %s", ifn, sw);
		return -EBUSY;
	}
	struct unm_port *old = vnic_find(ifn);
	if (old != NULL) {
		unm_seterr("%s is already attached to a switch (%s)", ifn, old->name);
		return -EBUSY;
	}
	struct unm_port *np = unm_port_find_locked(ifn);
	if (np != NULL && np->kind == UNM_PORT_NIC && np->refs > 0) {
		unm_seterr("%s is open as netmap:%s", ifn, ifn);
		return -EBUSY;
	}
	uint32_t nrxq, ntxq;
	if ((ret = unm_vnic_if_check(ifn, &nrxq, &ntxq)) < 0)
		return ret;
	uint32_t need = host ? 2 : 1;
	if (swi >= 0 && r->vale[swi].nactive + need > UNM_VALE_MAXPORTS) {
		unm_seterr("switch %s is full (%d ports)", sw, UNM_VALE_MAXPORTS);
		return -ENOMEM;
	}
	uint32_t s = (uint32_t)swi;
	if (swi < 0 && (ret = sw_create(sw, &s)) < 0)
		return ret;
	/* valeS:IF: a TX ring per NIC RX queue, an RX ring per NIC TX queue
	 * (at most 16 each: NIC RX ring k enters on TX ring k mod 16) */
	uint32_t nvt = nrxq < UNM_VALE_MAXRINGS ? nrxq : UNM_VALE_MAXRINGS;
	uint32_t nvr = ntxq < UNM_VALE_MAXRINGS ? ntxq : UNM_VALE_MAXRINGS;
	uint32_t idx, hidx = UNM_NONE;
	char hname[UNM_NAME_MAX + 1];
	snprintf(hname, sizeof(hname), "%.*s^", UNM_NAME_MAX - 2, hdr->nr_name);
	ret = port_new(hdr->nr_name, UNM_PORT_VALE, b->reg.nr_mem_id, sw_mode(s), nvt, nvr,
		       b->reg.nr_tx_slots, b->reg.nr_rx_slots, &idx);
	if (ret == 0 && (ret = sw_join(s, idx, 0)) < 0)
		port_free(idx);
	if (ret == 0 && host) {
		ret = port_new(hname, UNM_PORT_VALE, b->reg.nr_mem_id, sw_mode(s), 1, 1,
			       b->reg.nr_tx_slots, b->reg.nr_rx_slots, &hidx);
		if (ret == 0 && (ret = sw_join(s, hidx, 0)) < 0)
			port_free(hidx);
		if (ret < 0)
			port_free(idx);
	}
	if (ret < 0) {
		sw_remove_if_empty(s);
		return ret;
	}
	struct unm_port *p = &r->ports[idx];
	uint32_t gen = ++r->gen;
	memset(&p->vnic, 0, sizeof(p->vnic));
	p->vnic.role = UNM_VNIC_NIC;
	p->vnic.peer_port = hidx;
	p->vnic.gen = gen;
	p->vnic.nrxq = nrxq;
	p->vnic.ntxq = ntxq;
	snprintf(p->vnic.ifname, sizeof(p->vnic.ifname), "%s", ifn);
	if (host) {
		struct unm_port *hp = &r->ports[hidx];
		memset(&hp->vnic, 0, sizeof(hp->vnic));
		hp->vnic.role = UNM_VNIC_HOST;
		hp->vnic.peer_port = idx;
		hp->vnic.gen = gen;
		hp->ready = 1;
	}
	p->ready = 1;	/* commit */
	b->port_index = p->swport[0];
	if ((ret = unm_vnic_fifo_create(idx, gen)) < 0) {
		vnic_remove(idx);
		return ret;
	}
	/* the helper opens the ports and the interface through the netmap
	 * API: without the registry lock */
	unm_unlock();
	int32_t pid;
	int hret = unm_vnic_start(idx, gen, &pid);
	char msg[256];
	snprintf(msg, sizeof(msg), "%s", unetmap_last_error());
	if ((ret = relock()) < 0)
		return ret;
	if (hret < 0) {
		unm_gc_locked(true);	/* the helper's registrations, if it died */
		if (vnic_is(idx, gen))
			vnic_remove(idx);
		unm_seterr("%.64s: %.180s", hdr->nr_name, msg);
		return hret;
	}
	if (!vnic_is(idx, gen)) {
		unm_seterr("%s was detached while being attached", hdr->nr_name);
		return -EBUSY;
	}
	return 0;
}

/* VALE_DETACH of attachment idx: its helper leaves (or is killed), then
 * the ports go. */
static int nic_detach(struct nmreq_vale_detach *b, uint32_t idx)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *p = &r->ports[idx];
	if (p->vnic.poll_mode != 0) {
		unm_seterr("%s polls: stop it first (VALE_POLLING_DISABLE, vale-ctl -P)", p->name);
		return -EBUSY;
	}
	b->port_index = p->swport[0];
	uint32_t gen = p->vnic.gen;
	int32_t pid = p->vnic.pid;
	unm_store_release(&p->vnic.stop, 1);
	unm_unlock();
	unm_vnic_wait_exit(idx, gen, pid, 3000);
	int ret = relock();
	if (ret < 0)
		return ret;
	if (!vnic_is(idx, gen)) {
		unm_seterr("%s was detached meanwhile", r->ports[idx].name);
		return -ENXIO;
	}
	/* a killed helper's registrations go now (the ports must be unused
	 * to be freed at once; otherwise with their last registration) */
	unm_gc_locked(true);
	vnic_remove(idx);
	return 0;
}

/* NETMAP's polling placement (§2.3) for attachment p */
static int poll_check(const struct unm_port *p, const struct nmreq_vale_polling *b)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN), conf = sysconf(_SC_NPROCESSORS_CONF);
	uint32_t first = b->nr_first_cpu_id, n = b->nr_num_polling_cpus;
	if (online < 1)
		online = 1;
	if (conf < online)
		conf = online;
	if (n == 0) {
		unm_seterr("%s: nr_num_polling_cpus must be > 0", p->name);
		return -EINVAL;
	}
	if (n >= (uint32_t)online) {
		unm_seterr("%s: cannot use all the %ld CPUs for polling", p->name, online);
		return -EINVAL;
	}
	if (b->nr_mode == NETMAP_POLLING_MODE_MULTI_CPU) {
		/* ring c polled by CPU c */
		if ((uint64_t)first + n > p->vnic.nrxq) {
			unm_seterr("%s: rings %u-%u not in range (%u rings)", p->name, first,
				   first + n - 1, p->vnic.nrxq);
			return -EINVAL;
		}
		if ((uint64_t)first + n > (uint64_t)conf) {
			unm_seterr("%s: CPUs %u-%u do not exist (%ld CPUs)", p->name, first,
				   first + n - 1, conf);
			return -EINVAL;
		}
		if (n > p->ntx) {
			unm_seterr("%s: %u rings would share the switch's %u TX rings", p->name,
				   n, p->ntx);
			return -EINVAL;
		}
	} else if (b->nr_mode == NETMAP_POLLING_MODE_SINGLE_CPU) {
		if (n != 1) {
			unm_seterr("%s: nr_num_polling_cpus must be 1 with "
				   "NETMAP_POLLING_MODE_SINGLE_CPU (was %u)", p->name, n);
			return -EINVAL;
		}
		if (first >= (uint64_t)conf) {
			unm_seterr("%s: CPU %u does not exist (%ld CPUs)", p->name, first, conf);
			return -EINVAL;
		}
	} else {
		unm_seterr("%s: invalid polling mode %u", p->name, b->nr_mode);
		return -EINVAL;
	}
	return 0;
}

/* VALE_POLLING_ENABLE / DISABLE of attachment idx: the helper applies it
 * (busy polling pinned as asked, or sleeping again) and says how it went. */
static int nic_polling(struct nmreq_header *hdr, struct nmreq_vale_polling *b, uint32_t idx)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *p = &r->ports[idx];
	bool on = hdr->nr_reqtype == NETMAP_REQ_VALE_POLLING_ENABLE;
	int ret;
	if (on && p->vnic.poll_mode != 0) {
		unm_seterr("%s polls already", hdr->nr_name);
		return -EFAULT;
	}
	if (!on && p->vnic.poll_mode == 0) {
		unm_seterr("%s does not poll", hdr->nr_name);
		return -EFAULT;
	}
	if (on && (ret = poll_check(p, b)) < 0)
		return ret;
	uint32_t gen = p->vnic.gen;
	bool alive = unm_vnic_alive(idx, gen);
	if (on && !alive) {
		unm_seterr("%s: its helper process is gone (detach and attach again)",
			   hdr->nr_name);
		return -EIO;
	}
	p->vnic.poll_mode = on ? b->nr_mode : 0;
	p->vnic.poll_first = on ? b->nr_first_cpu_id : 0;
	p->vnic.poll_ncpu = on ? b->nr_num_polling_cpus : 0;
	uint32_t want = p->vnic.poll_gen + 1;
	unm_store_release(&p->vnic.poll_gen, want);
	if (!alive)
		return 0;	/* nothing polls any more */
	unm_unlock();
	unm_vnic_wake(idx, gen);
	int64_t end = unm_now_ns() + 3000000000LL;
	bool acked = false;
	while (unm_now_ns() < end) {
		if (!vnic_is(idx, gen) || unm_load_acquire(&p->vnic.poll_ack) == want) {
			acked = true;
			break;
		}
		if (!unm_vnic_alive(idx, gen))
			break;
		usleep(1000);
	}
	if ((ret = relock()) < 0)
		return ret;
	if (!vnic_is(idx, gen)) {
		unm_seterr("%s was detached meanwhile", hdr->nr_name);
		return -ENXIO;
	}
	int err = acked && p->vnic.poll_ack == want ? p->vnic.poll_err : -EIO;
	if (err < 0 && on) {
		/* the helper sleeps again (or is gone): so does the state */
		p->vnic.poll_mode = 0;
		if (acked)
			unm_seterr("%s: the helper could not poll as asked: %s", hdr->nr_name,
				   strerror(-err));
		else
			unm_seterr("%s: the helper did not take the request", hdr->nr_name);
		return err;
	}
	return 0;
}

/* ---- requests ------------------------------------------------------------------ */

static int do_newif(struct nmreq_header *hdr, struct nmreq_vale_newif *b)
{
	struct unm_registry *r = unm_registry();
	const char *name = hdr->nr_name;
	if (unm_vale_name(name) || strlen(name) >= 16 || name[0] == '\0' ||
	    strpbrk(name, ":{}/@ ") != NULL) {
		unm_seterr("invalid persistent port name %s", name);
		return -EINVAL;
	}
	struct unm_port *old = unm_port_find_locked(name);
	if (old != NULL || if_nametoindex(name) != 0) {
		if (old != NULL && old->kind == UNM_PORT_VALE_PERSIST) {
			b->nr_tx_slots = old->tx_slots;
			b->nr_rx_slots = old->rx_slots;
			b->nr_tx_rings = (uint16_t)old->ntx;
			b->nr_rx_rings = (uint16_t)old->nrx;
			b->nr_mem_id = old->mem_id;
		}
		unm_seterr("interface %s already exists", name);
		return -EEXIST;
	}
	uint32_t idx;
	int ret = port_new(name, UNM_PORT_VALE_PERSIST, b->nr_mem_id, creation_mode(),
			   b->nr_tx_rings, b->nr_rx_rings, b->nr_tx_slots, b->nr_rx_slots, &idx);
	if (ret < 0)
		return ret;
	struct unm_port *p = &r->ports[idx];
	p->ready = 1;	/* commit */
	b->nr_tx_slots = p->tx_slots;
	b->nr_rx_slots = p->rx_slots;
	b->nr_tx_rings = (uint16_t)p->ntx;
	b->nr_rx_rings = (uint16_t)p->nrx;
	b->nr_mem_id = p->mem_id;
	return 0;
}

static int do_delif(struct nmreq_header *hdr)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *p = unm_port_find_locked(hdr->nr_name);
	if (p == NULL) {
		if (if_nametoindex(hdr->nr_name) != 0) {
			unm_seterr("%s is not a VALE port", hdr->nr_name);
			return -EINVAL;
		}
		unm_seterr("no interface %s", hdr->nr_name);
		return -ENXIO;
	}
	if (p->kind == UNM_PORT_VALE) {
		/* an ephemeral port is not an interface (netmap: ENXIO) */
		unm_seterr("%s is not an interface (ephemeral VALE port)", hdr->nr_name);
		return -ENXIO;
	}
	if (p->kind != UNM_PORT_VALE_PERSIST) {
		unm_seterr("%s is not a persistent VALE port", hdr->nr_name);
		return -EINVAL;
	}
	if (p->sw[0] != UNM_NOSW || p->sw[1] != UNM_NOSW || p->refs || p->children) {
		unm_seterr("%s is attached to a switch or open", hdr->nr_name);
		return -EBUSY;
	}
	port_free((uint32_t)(p - r->ports));
	return 0;
}

static int do_attach(struct nmreq_header *hdr, struct nmreq_vale_attach *b)
{
	struct unm_registry *r = unm_registry();
	char sw[16], pn[16];
	int ret = parse_vale(hdr->nr_name, sw, pn);
	if (ret < 0)
		return ret;
	struct unm_port *p = persist_find(pn);
	if (p == NULL) {
		if (if_nametoindex(pn) != 0)
			return nic_attach(hdr, b, sw, pn);
		unm_seterr("no interface %s", pn);
		return -EINVAL;
	}
	if (b->reg.nr_mem_id != 0 && (ret = unm_mem_get_locked(b->reg.nr_mem_id)) < 0)
		return ret;
	uint32_t pidx = (uint32_t)(p - r->ports);
	int swi = sw_find(sw);
	if (swi >= 0 && (ret = sw_access((uint32_t)swi)) < 0)
		return ret;
	for (int a = 0; a < 2; a++) {
		if (swi >= 0 && p->sw[a] == swi) {
			unm_seterr("%s is already attached to %s", pn, sw);
			return -EBUSY;
		}
	}
	int a = p->sw[0] == UNM_NOSW ? 0 : p->sw[1] == UNM_NOSW ? 1 : -1;
	if (a < 0) {
		unm_seterr("%s is already attached to two switches", pn);
		return -EBUSY;
	}
	uint32_t s = (uint32_t)swi;
	if (swi < 0 && (ret = sw_create(sw, &s)) < 0)
		return ret;
	if ((ret = sw_join(s, pidx, a)) < 0) {
		sw_remove_if_empty(s);	/* only one nobody joined */
		return ret;
	}
	b->port_index = p->swport[a];
	return 0;
}

static int do_detach(struct nmreq_header *hdr, struct nmreq_vale_detach *b)
{
	struct unm_registry *r = unm_registry();
	char sw[16], pn[16];
	int ret = parse_vale(hdr->nr_name, sw, pn);
	if (ret < 0)
		return ret;
	int swi = sw_find(sw);
	if (swi < 0) {
		unm_seterr("no switch %s", sw);
		return -ENXIO;
	}
	if ((ret = sw_access((uint32_t)swi)) < 0)
		return ret;
	struct unm_port *p = persist_find(pn);
	int a = -1;
	if (p != NULL)
		a = p->sw[0] == swi ? 0 : p->sw[1] == swi ? 1 : -1;
	if (a < 0) {
		uint32_t eidx;
		if (unm_vale_lookup_locked(hdr->nr_name, NULL, false, false, &eidx) == 0) {
			if (r->ports[eidx].vnic.role == UNM_VNIC_NIC)
				return nic_detach(b, eidx);
			unm_seterr("%s was not attached with VALE_ATTACH", hdr->nr_name);
			return -EINVAL;
		}
		unm_seterr("%s is not attached to %s", pn, sw);
		return -ENXIO;
	}
	if (a == 0 && p->sw[1] != UNM_NOSW) {
		unm_seterr("%s is also attached to %s: detach that first", pn,
			   r->vale[p->sw[1]].name);
		return -EBUSY;
	}
	b->port_index = p->swport[a];
	sw_leave((uint32_t)(p - r->ports), a);
	return 0;
}

static int do_list(struct nmreq_header *hdr, struct nmreq_vale_list *b)
{
	struct unm_registry *r = unm_registry();
	if (hdr->nr_name[0] != '\0') {
		char sw[16], pn[16];
		if (strncmp(hdr->nr_name, "vale", 4) != 0) {
			unm_seterr("%s: not a VALE name", hdr->nr_name);
			return -EINVAL;
		}
		int ret = parse(hdr->nr_name, sw, pn);
		if (ret < 0)
			return ret;
		int swi = sw_find(sw);
		if (swi < 0) {
			unm_seterr("no switch %s", sw);
			return -ENOENT;
		}
		b->nr_bridge_idx = (uint16_t)swi;
		int j = member_find((uint32_t)swi, hdr->nr_name);
		b->nr_port_idx = j >= 0 ? (uint32_t)j : NOPORT;
		return 0;
	}
	for (uint32_t s = b->nr_bridge_idx; s < UNM_VALE_MAXSW; s++) {
		if (!r->vale[s].live)
			continue;
		uint32_t j0 = s == b->nr_bridge_idx ? b->nr_port_idx : 0;
		for (uint32_t j = j0; j < UNM_VALE_MAXPORTS; j++) {
			uint32_t pi = r->vale[s].port[j];
			if (pi == UNM_NONE)
				continue;
			member_name(s, pi, hdr->nr_name, sizeof(hdr->nr_name));
			b->nr_bridge_idx = (uint16_t)s;
			b->nr_port_idx = j;
			return 0;
		}
	}
	return -ENOENT;
}

static int do_hdr_set(struct nmreq_header *hdr, struct nmreq_port_hdr *b)
{
	struct unm_registry *r = unm_registry();
	uint32_t idx;
	if (!unm_vale_name(hdr->nr_name)) {
		unm_seterr("%s: not a VALE port", hdr->nr_name);
		return -ENXIO;
	}
	int ret = unm_vale_lookup_locked(hdr->nr_name, NULL, false, false, &idx);
	if (ret < 0)
		return ret == -EINVAL ? -ENXIO : ret;
	if (b->nr_hdr_len != 0 && b->nr_hdr_len != 10 && b->nr_hdr_len != 12) {
		unm_seterr("virtio-net header length %u not in {0, 10, 12}", b->nr_hdr_len);
		return -EINVAL;
	}
	r->ports[idx].hdr_len = b->nr_hdr_len;
	return 0;
}

static int do_polling(struct nmreq_header *hdr, struct nmreq_vale_polling *b)
{
	uint32_t idx;
	if (!unm_vale_name(hdr->nr_name)) {
		unm_seterr("%s: not a VALE name", hdr->nr_name);
		return -EINVAL;
	}
	int ret = unm_vale_lookup_locked(hdr->nr_name, NULL, false, false, &idx);
	if (ret < 0)
		return ret;
	if (unm_registry()->ports[idx].vnic.role != UNM_VNIC_NIC) {
		unm_seterr("%s is not a network interface attached to a switch: polling "
			   "threads drive NICs only", hdr->nr_name);
		return -EOPNOTSUPP;
	}
	return nic_polling(hdr, b, idx);
}

int unm_vale_ctl(struct unm_fd *f, struct nmreq_header *hdr, void *body)
{
	(void)f;
	int ret = unm_lock();
	if (ret < 0)
		return ret;
	unm_gc_locked(false);
	switch (hdr->nr_reqtype) {
	case NETMAP_REQ_VALE_ATTACH:
		ret = do_attach(hdr, body);
		break;
	case NETMAP_REQ_VALE_DETACH:
		ret = do_detach(hdr, body);
		break;
	case NETMAP_REQ_VALE_LIST:
		ret = do_list(hdr, body);
		break;
	case NETMAP_REQ_VALE_NEWIF:
		ret = do_newif(hdr, body);
		break;
	case NETMAP_REQ_VALE_DELIF:
		ret = do_delif(hdr);
		break;
	case NETMAP_REQ_PORT_HDR_SET:
		ret = do_hdr_set(hdr, body);
		break;
	case NETMAP_REQ_VALE_POLLING_ENABLE:
	case NETMAP_REQ_VALE_POLLING_DISABLE:
		ret = do_polling(hdr, body);
		break;
	default:
		ret = -EINVAL;
	}
	if (!relock_failed)
		unm_unlock();
	relock_failed = false;
	return ret;
}

/* ---- crash repair --------------------------------------------------------------- */

/* After a death inside the registry lock: switch membership is rebuilt
 * from the committed ports' attachments. */
void unm_vale_repair_locked(void)
{
	struct unm_registry *r = unm_registry();
	for (uint32_t s = 0; s < UNM_VALE_MAXSW; s++) {
		struct unm_vale_ent *e = &r->vale[s];
		if (!e->live)
			continue;
		e->nactive = 0;
		for (uint32_t j = 0; j < UNM_VALE_MAXPORTS; j++)
			e->port[j] = UNM_NONE;
	}
	for (uint32_t i = 0; i < r->port_hwm; i++) {
		struct unm_port *p = &r->ports[i];
		if (p->kind != UNM_PORT_VALE && p->kind != UNM_PORT_VALE_PERSIST)
			continue;
		for (int a = 0; a < 2; a++) {
			uint32_t s = p->sw[a], j = p->swport[a];
			if (s >= UNM_VALE_MAXSW || !r->vale[s].live || j >= UNM_VALE_MAXPORTS ||
			    r->vale[s].port[j] != UNM_NONE) {
				p->sw[a] = p->swport[a] = UNM_NOSW;
				continue;
			}
			r->vale[s].port[j] = i;
			r->vale[s].nactive++;
		}
		/* ring state follows the recounted bindings */
		struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
		if (m != NULL) {
			for (uint32_t q = 0; p->rx_obj != UNM_NONE && q < p->nrx; q++)
				vale_bind(m, unm_kring_ptr(m, p->rx_obj + q));
			for (uint32_t q = 0; p->tx_obj != UNM_NONE && q < p->ntx; q++)
				vale_bind(m, unm_kring_ptr(m, p->tx_obj + q));
			unm_map_put(m);
		}
	}
	for (uint32_t s = 0; s < UNM_VALE_MAXSW; s++)
		sw_remove_if_empty(s);
	vale_gen_bump();
}

/* ---- extensions: counters, MAC table, lookup ------------------------------------- */

/* switch index of "valeS" or "valeS:P" (registry lock held), checking
 * that the caller may use it; with `out`, the mapped switch file too
 * (the caller puts it) */
static int sw_by_arg(const char *arg, struct swmap **out)
{
	char sw[16];
	if (arg == NULL || strncmp(arg, "vale", 4) != 0)
		return -EINVAL;
	size_t l = strcspn(arg, ":");
	if (l >= sizeof(sw))
		return -EINVAL;
	memcpy(sw, arg, l);
	sw[l] = '\0';
	int swi = sw_find(sw);
	if (swi < 0)
		return -ENOENT;
	struct swmap *sm;
	int ret = sw_get((uint32_t)swi, &sm);
	if (ret < 0)
		return ret;
	if (out != NULL)
		*out = sm;
	else
		sw_put(sm);
	return swi;
}

int unetmap_vale_stats(const char *swname, struct unetmap_vale_port_stats *st, unsigned max)
{
	struct unm_registry *r = unm_registry();
	int ret = unm_lock();
	if (ret < 0)
		return ret;
	int swi = sw_by_arg(swname, NULL);
	if (swi < 0) {
		unm_unlock();
		return swi;
	}
	unsigned cnt = 0;
	for (uint32_t j = 0; j < UNM_VALE_MAXPORTS; j++) {
		uint32_t pi = r->vale[swi].port[j];
		if (pi == UNM_NONE)
			continue;
		if (cnt < max) {
			struct unetmap_vale_port_stats *o = &st[cnt];
			struct unm_port *p = &r->ports[pi];
			memset(o, 0, sizeof(*o));
			member_name((uint32_t)swi, pi, o->name, sizeof(o->name));
			o->port_idx = j;
			struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
			if (m != NULL) {
				for (uint32_t q = 0; q < p->ntx; q++) {
					struct unm_kring *kr = unm_kring_ptr(m, p->tx_obj + q);
					o->tx_frames += UNM_READ_ONCE(kr->tx_frames) +
							UNM_READ_ONCE(kr->xdp_frames);
					o->tx_bytes += UNM_READ_ONCE(kr->tx_bytes) +
						       UNM_READ_ONCE(kr->xdp_bytes);
					o->drop_full += UNM_READ_ONCE(kr->drop_full);
					o->drop_closed += UNM_READ_ONCE(kr->drop_closed);
					o->drop_malformed += UNM_READ_ONCE(kr->drop_malformed);
				}
				for (uint32_t q = 0; q < p->nrx; q++) {
					struct unm_kring *kr = unm_kring_ptr(m, p->rx_obj + q);
					o->rx_frames += UNM_READ_ONCE(kr->rx_frames) +
							UNM_READ_ONCE(kr->xdp_frames);
					o->rx_bytes += UNM_READ_ONCE(kr->rx_bytes) +
						       UNM_READ_ONCE(kr->xdp_bytes);
					o->drop_dead += UNM_READ_ONCE(kr->drop_dead);
					o->rx_rings_open += UNM_READ_ONCE(kr->open) != 0;
				}
				unm_map_put(m);
			}
		}
		cnt++;
	}
	unm_unlock();
	return (int)cnt;
}

int unetmap_vale_macs(const char *swname, struct unetmap_vale_mac *macs, unsigned max)
{
	int ret = unm_lock();
	if (ret < 0)
		return ret;
	struct swmap *sm = NULL;
	int swi = sw_by_arg(swname, &sm);
	if (swi < 0) {
		unm_unlock();
		return swi;
	}
	unm_unlock();
	unsigned cnt = 0;
	for (uint32_t h = 0; h < MAC_ENTRIES; h++) {
		uint64_t e = UNM_READ_ONCE(sm->f->mac[h]);
		if (e >> 48 == 0)
			continue;
		if (cnt < max) {
			for (int b = 0; b < 6; b++)
				macs[cnt].mac[b] = (uint8_t)(e >> (8 * b));
			macs[cnt].port_idx = (uint16_t)((e >> 48) - 1);
		}
		cnt++;
	}
	sw_put(sm);
	return (int)cnt;
}

int unetmap_vale_set_lookup(const char *swname, const char *path)
{
	if (path == NULL)
		path = "";
	if (path[0] != '\0') {
		if (path[0] != '/' || strlen(path) >= sizeof(((struct vale_file *)0)->lookup))
			return -EINVAL;
		void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (dl == NULL) {
			unm_seterr("cannot load %s: %s", path, dlerror());
			return -ENOEXEC;
		}
		void *sym = dlsym(dl, UNETMAP_VALE_LOOKUP_SYM);
		dlclose(dl);
		if (sym == NULL) {
			unm_seterr("%s does not define %s", path, UNETMAP_VALE_LOOKUP_SYM);
			return -ENOEXEC;
		}
	}
	int ret = unm_lock();
	if (ret < 0)
		return ret;
	struct swmap *sm = NULL;
	int swi = sw_by_arg(swname, &sm);
	if (swi < 0) {
		unm_unlock();
		return swi;
	}
	snprintf(sm->f->lookup, sizeof(sm->f->lookup), "%s", path);
	sm->f->lookup_gen++;
	sw_put(sm);
	vale_gen_bump();
	unm_unlock();
	return 0;
}

int unetmap_vale_get_lookup(const char *swname, char *buf, unsigned len)
{
	int ret = unm_lock();
	if (ret < 0)
		return ret;
	struct swmap *sm = NULL;
	int swi = sw_by_arg(swname, &sm);
	if (swi < 0) {
		unm_unlock();
		return swi;
	}
	if (len > 0)
		snprintf(buf, len, "%s", sm->f->lookup);
	sw_put(sm);
	unm_unlock();
	return 0;
}

int unetmap_vale_switches(char (*names)[16], unsigned max)
{
	struct unm_registry *r = unm_registry();
	int ret = unm_lock();
	if (ret < 0)
		return ret;
	unm_gc_locked(false);
	unsigned cnt = 0;
	for (uint32_t s = 0; s < UNM_VALE_MAXSW; s++) {
		if (!r->vale[s].live)
			continue;
		if (cnt < max)
			snprintf(names[cnt], 16, "%s", r->vale[s].name);
		cnt++;
	}
	unm_unlock();
	return (int)cnt;
}
