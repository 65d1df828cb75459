/*
 * mem.c - memory regions ("allocators" in netmap terms).
 *
 * A region is one file, mem-<id>-<gen>, in the runtime directory.  The first
 * memsize bytes are what a netmap application maps: the netmap_if pool at
 * offset 0, then the ring pool, then the buffer pool, each a whole number of
 * pages.  After them come the allocator's metadata: a header, one bitmap per
 * pool (bit set = object in use) and the kernel-side ring states.  The file
 * is sparse, so pages nobody touched (unused buffers) cost no memory.
 *
 * All allocation runs on the control path, under the registry lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "core/unm.h"

#define PAGE 4096UL
#define ROUND(x, a) (((x) + (a) - 1) / (a) * (a))

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static struct unm_map *map_list;

static void mem_file(char *buf, size_t len, uint16_t id, uint32_t gen)
{
	unm_path(buf, len, "mem-%u-%u", id, gen);
}

/* Object limits of netmap's allocator (reference §5.1), applied to the
 * parameters a user may set through the environment. */
static void params_clamp(struct unm_pool_params *p)
{
#define CLAMP(v, lo, hi) do { if ((v) < (lo)) (v) = (lo); if ((v) > (hi)) (v) = (hi); } while (0)
	CLAMP(p->if_size, 1024, 65536);
	CLAMP(p->if_num, 2, 100000);
	CLAMP(p->ring_size, 256 + 16 * 64, 256 + 16 * UNM_MAX_SLOTS);
	CLAMP(p->ring_num, 4, 65536);
	CLAMP(p->buf_size, 64, 65536);
	CLAMP(p->buf_num, 4, 16 * 1000 * 1000);
#undef CLAMP
	p->if_size = ROUND(p->if_size, 64);
	p->ring_size = ROUND(p->ring_size, 64);
	p->buf_size = ROUND(p->buf_size, 64);
}

static uint32_t env_u32(const char *prefix, const char *name, uint32_t dflt)
{
	char var[64];
	snprintf(var, sizeof(var), "UNETMAP_%s%s", prefix, name);
	const char *v = getenv(var);
	if (v == NULL || *v == '\0')
		return dflt;
	char *end;
	unsigned long x = strtoul(v, &end, 0);
	if (*end != '\0' || x == 0 || x > UINT32_MAX)
		return dflt;
	return (uint32_t)x;
}

/* Defaults: big enough that normal use never meets a limit, since a sparse
 * file costs only what is touched.  Environment overrides (read by the
 * process that creates the region): UNETMAP_{IF,RING,BUF}_{SIZE,NUM} for
 * private regions, UNETMAP_GLOBAL_{IF,RING,BUF}_{SIZE,NUM} for mem_id 1. */
static void default_params(bool global, struct unm_pool_params *p)
{
	const char *pre = global ? "GLOBAL_" : "";
	/* 4224 bytes hold a netmap_if with 256+1 rings in each direction */
	p->if_size = env_u32(pre, "IF_SIZE", 4224);
	p->if_num = env_u32(pre, "IF_NUM", global ? 1024 : 512);
	p->ring_size = env_u32(pre, "RING_SIZE", 256 + 16 * UNM_MAX_SLOTS);
	p->ring_num = env_u32(pre, "RING_NUM", 1024);
	p->buf_size = env_u32(pre, "BUF_SIZE", 2048);
	p->buf_num = env_u32(pre, "BUF_NUM", global ? 163840 : 262144);
	params_clamp(p);
}

struct layout {
	uint64_t if_off, ring_off, buf_off, memsize;
	uint64_t if_bm, ring_bm, buf_bm, kring, shadow, file_size; /* relative to meta */
};

static void compute_layout(const struct unm_pool_params *p, struct layout *l)
{
	l->if_off = 0;
	l->ring_off = ROUND((uint64_t)p->if_size * p->if_num, PAGE);
	l->buf_off = l->ring_off + ROUND((uint64_t)p->ring_size * p->ring_num, PAGE);
	l->memsize = l->buf_off + ROUND((uint64_t)p->buf_size * p->buf_num, PAGE);
	uint64_t o = ROUND(sizeof(struct unm_region_meta), 64);
	l->if_bm = o;
	o += ROUND((p->if_num + 63) / 64 * 8, 64);
	l->ring_bm = o;
	o += ROUND((p->ring_num + 63) / 64 * 8, 64);
	l->buf_bm = o;
	o += ROUND(((uint64_t)p->buf_num + 63) / 64 * 8, 64);
	l->kring = ROUND(o, 64);
	o = l->kring + (uint64_t)p->ring_num * sizeof(struct unm_kring);
	/* per ring: the buffer index each RX slot had when it was imported */
	l->shadow = ROUND(o, PAGE);
	o = l->shadow + (uint64_t)p->ring_num * unm_ring_max_slots(p) * sizeof(uint32_t);
	l->file_size = l->memsize + ROUND(o, PAGE);
}

static inline uint64_t *bm(struct unm_map *m, uint64_t off)
{
	return (uint64_t *)((char *)m->meta + off);
}
static inline void bm_set(uint64_t *b, uint32_t i) { b[i / 64] |= 1ULL << (i % 64); }
static inline void bm_clr(uint64_t *b, uint32_t i) { b[i / 64] &= ~(1ULL << (i % 64)); }
static inline bool bm_test(const uint64_t *b, uint32_t i) { return b[i / 64] >> (i % 64) & 1; }

/* Map a region file into this process. */
static struct unm_map *map_open(uint16_t id, uint32_t gen, uint64_t file_size)
{
	char path[512];
	mem_file(path, sizeof(path), id, gen);
	int fd = unm_real_open(path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	void *p = unm_real_mmap(NULL, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;
	unm_real_close(fd);
	if (p == MAP_FAILED) {
		errno = e;
		return NULL;
	}
	struct unm_map *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		munmap(p, file_size);
		errno = ENOMEM;
		return NULL;
	}
	m->mem_id = id;
	m->gen = gen;
	m->base = p;
	m->len = file_size;
	return m;
}

static void map_finish(struct unm_map *m, uint64_t memsize)
{
	m->meta = (struct unm_region_meta *)(m->base + memsize);
	m->krings = (struct unm_kring *)((char *)m->meta + m->meta->kring_off);
	m->shadow = (uint32_t *)((char *)m->meta + m->meta->shadow_off);
}

struct unm_map *unm_map_get(uint16_t id, uint32_t gen)
{
	struct unm_registry *r = unm_registry();
	struct unm_map *m;

	pthread_mutex_lock(&map_lock);
	for (m = map_list; m != NULL; m = m->next) {
		if (m->mem_id == id && m->gen == gen) {
			m->refs++;
			pthread_mutex_unlock(&map_lock);
			return m;
		}
	}
	struct unm_mem_ent *e = &r->mems[id];
	m = map_open(id, gen, e->file_size);
	if (m != NULL) {
		map_finish(m, e->memsize);
		if (m->meta->magic != UNM_REGION_MAGIC || m->meta->gen != gen) {
			munmap(m->base, m->len);
			free(m);
			m = NULL;
			errno = ENXIO;
		} else {
			m->refs = 1;
			m->next = map_list;
			map_list = m;
		}
	}
	pthread_mutex_unlock(&map_lock);
	return m;
}

void unm_map_put(struct unm_map *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&map_lock);
	if (--m->refs == 0) {
		struct unm_map **pp;
		for (pp = &map_list; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == m) {
				*pp = m->next;
				break;
			}
		}
		munmap(m->base, m->len);
		free(m);
	}
	pthread_mutex_unlock(&map_lock);
}

/* Create a region.  want_id 0 picks the id after the last one created,
 * skipping ids in use (netmap hands out 2, 3, 4 ... and does not reuse an
 * id at once). */
static int mem_create(uint16_t want_id, bool global, const struct unm_pool_params *want,
		      mode_t mode, uint16_t *id_out);

int unm_mem_create_locked(uint16_t want_id, bool global, uint16_t *id_out)
{
	return mem_create(want_id, global, NULL, 0666, id_out);
}

/* A private region sized for one port (VALE): `bufs` buffers and `rings`
 * rings unless UNETMAP_BUF_NUM / UNETMAP_RING_NUM say otherwise; files
 * created with `mode` (the switch's). */
int unm_mem_create_sized_locked(uint32_t bufs, uint32_t rings, mode_t mode, uint16_t *id_out)
{
	struct unm_pool_params p;
	default_params(false, &p);
	if (getenv("UNETMAP_BUF_NUM") == NULL)
		p.buf_num = bufs;
	if (getenv("UNETMAP_RING_NUM") == NULL)
		p.ring_num = rings;
	if (getenv("UNETMAP_IF_NUM") == NULL)
		p.if_num = 64;
	params_clamp(&p);
	return mem_create(0, false, &p, mode, id_out);
}

static int mem_create(uint16_t want_id, bool global, const struct unm_pool_params *want,
		      mode_t mode, uint16_t *id_out)
{
	struct unm_registry *r = unm_registry();
	uint32_t id = want_id;

	if (id == 0) {
		uint32_t cand = r->last_mem_id;
		for (uint32_t n = 0; n < UNM_MAX_MEMS; n++) {
			cand = cand + 1 >= UNM_MAX_MEMS ? 2 : cand + 1;
			if (cand >= 2 && !r->mems[cand].live) {
				id = cand;
				break;
			}
		}
		if (id == 0) {
			unm_seterr("no free memory region id");
			return -ENOMEM;
		}
	}
	struct unm_pool_params p;
	if (want != NULL)
		p = *want;
	else if (global)
		p = r->global_params.buf_num ? r->global_params : (default_params(true, &p), p);
	else
		default_params(false, &p);
	struct layout l;
	compute_layout(&p, &l);

	uint32_t gen = ++r->gen;
	char path[512];
	mem_file(path, sizeof(path), (uint16_t)id, gen);
	int fd = unm_real_open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = errno;
		unm_seterr("cannot create region file %s: %s", path, strerror(e));
		return -e;
	}
	fchmod(fd, mode);
	if (ftruncate(fd, (off_t)l.file_size) < 0) {
		int e = errno;
		unm_real_close(fd);
		unlink(path);
		unm_seterr("cannot size region file %s: %s", path, strerror(e));
		return -e;
	}
	unm_real_close(fd);

	struct unm_map *m = map_open((uint16_t)id, gen, l.file_size);
	if (m == NULL) {
		int e = errno;
		unlink(path);
		return -e;
	}
	struct unm_region_meta *meta = (struct unm_region_meta *)(m->base + l.memsize);
	meta->mem_id = (uint16_t)id;
	meta->gen = gen;
	meta->p = p;
	meta->memsize = l.memsize;
	meta->if_off = l.if_off;
	meta->ring_off = l.ring_off;
	meta->buf_off = l.buf_off;
	meta->if_bm_off = l.if_bm;
	meta->ring_bm_off = l.ring_bm;
	meta->buf_bm_off = l.buf_bm;
	meta->kring_off = l.kring;
	meta->shadow_off = l.shadow;
	meta->file_size = l.file_size;
	meta->if_free = p.if_num;
	meta->ring_free = p.ring_num;
	meta->buf_free = p.buf_num - 2;
	meta->txn_obj = UNM_NONE;
	m->meta = meta;
	/* buffers 0 and 1 are reserved: never handed out */
	bm_set(bm(m, l.buf_bm), 0);
	bm_set(bm(m, l.buf_bm), 1);
	unm_store_release(&meta->magic, UNM_REGION_MAGIC);
	munmap(m->base, m->len);
	free(m);

	struct unm_mem_ent *e = &r->mems[id];
	e->gen = gen;
	e->users = 0;
	e->flags = global ? UNM_MEM_GLOBAL : 0;
	e->memsize = l.memsize;
	e->file_size = l.file_size;
	e->live = 1;
	if (want_id == 0)
		r->last_mem_id = id;
	*id_out = (uint16_t)id;
	return 0;
}

/* 0 if region `id` exists (the global region, id 1, always does: it is
 * created on first use and kept), -EINVAL otherwise. */
int unm_mem_get_locked(uint16_t id)
{
	struct unm_registry *r = unm_registry();
	if (id == 0)
		return -EINVAL;
	if (r->mems[id].live)
		return 0;
	if (id == 1) {
		uint16_t got;
		int ret = unm_mem_create_locked(1, true, &got);
		if (ret == 0)
			r->mems[1].users = 1;	/* pinned: never destroyed */
		return ret;
	}
	unm_seterr("memory region %u does not exist", id);
	return -EINVAL;
}

void unm_mem_ref_locked(uint16_t id)
{
	unm_registry()->mems[id].users++;
}

void unm_mem_unref_locked(uint16_t id)
{
	struct unm_registry *r = unm_registry();
	struct unm_mem_ent *e = &r->mems[id];
	if (!e->live || e->users == 0)
		return;
	if (--e->users == 0) {
		char path[512];
		mem_file(path, sizeof(path), id, e->gen);
		unlink(path);
		e->live = 0;
	}
}

int unm_buf_alloc(struct unm_map *m, uint32_t *idx)
{
	struct unm_region_meta *meta = m->meta;
	uint64_t *b = bm(m, meta->buf_bm_off);
	uint32_t words = (meta->p.buf_num + 63) / 64;

	for (uint32_t w = meta->buf_hint; w < words; w++) {
		if (b[w] == ~0ULL)
			continue;
		uint32_t bit = (uint32_t)__builtin_ctzll(~b[w]);
		uint32_t i = w * 64 + bit;
		if (i >= meta->p.buf_num)
			break;
		b[w] |= 1ULL << bit;
		meta->buf_free--;
		meta->buf_hint = w;
		*idx = i;
		return 0;
	}
	meta->buf_hint = words;
	unm_seterr("buffer pool of memory region %u exhausted (%u buffers of %u bytes; "
		   "set UNETMAP_BUF_NUM)", meta->mem_id, meta->p.buf_num, meta->p.buf_size);
	return -ENOMEM;
}

void unm_buf_free(struct unm_map *m, uint32_t idx)
{
	struct unm_region_meta *meta = m->meta;
	uint64_t *b = bm(m, meta->buf_bm_off);
	if (idx < 2 || idx >= meta->p.buf_num || !bm_test(b, idx))
		return;		/* invalid or already free: ignore */
	bm_clr(b, idx);
	meta->buf_free++;
	if (idx / 64 < meta->buf_hint)
		meta->buf_hint = idx / 64;
}

int unm_ring_alloc(struct unm_map *m, uint32_t n, uint32_t slots, uint32_t *first)
{
	struct unm_region_meta *meta = m->meta;
	uint64_t *b = bm(m, meta->ring_bm_off);

	if (256 + 16ULL * slots > meta->p.ring_size) {
		unm_seterr("ring of %u slots does not fit the ring pool objects (%u bytes) of "
			   "memory region %u", slots, meta->p.ring_size, meta->mem_id);
		return -ENOMEM;
	}
	if (n == 0) {
		*first = 0;
		return 0;
	}
	uint32_t run = 0;
	for (uint32_t i = 0; i < meta->p.ring_num; i++) {
		if (bm_test(b, i)) {
			run = 0;
			continue;
		}
		if (++run == n) {
			uint32_t f = i + 1 - n;
			for (uint32_t j = f; j <= i; j++) {
				bm_set(b, j);
				/* until unm_ring_init() completes, the ring has no
				 * slots: a teardown after a crash in between
				 * frees no stale buffer index */
				*(uint32_t *)&unm_ring_ptr(m, j)->num_slots = 0;
				unm_kring_ptr(m, j)->num_slots = 0;
			}
			meta->ring_free -= n;
			*first = f;
			return 0;
		}
	}
	unm_seterr("ring pool of memory region %u exhausted (%u rings; set UNETMAP_RING_NUM)",
		   meta->mem_id, meta->p.ring_num);
	return -ENOMEM;
}

void unm_ring_free(struct unm_map *m, uint32_t first, uint32_t n)
{
	uint64_t *b = bm(m, m->meta->ring_bm_off);
	for (uint32_t i = first; i < first + n && i < m->meta->p.ring_num; i++) {
		if (bm_test(b, i)) {
			bm_clr(b, i);
			m->meta->ring_free++;
		}
	}
}

int unm_if_alloc(struct unm_map *m, size_t size, uint32_t *obj)
{
	struct unm_region_meta *meta = m->meta;
	uint64_t *b = bm(m, meta->if_bm_off);
	if (size > meta->p.if_size) {
		unm_seterr("netmap_if of %zu bytes exceeds the if pool object size %u",
			   size, meta->p.if_size);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < meta->p.if_num; i++) {
		if (!bm_test(b, i)) {
			bm_set(b, i);
			meta->if_free--;
			*obj = i;
			memset(m->base + meta->if_off + (uint64_t)i * meta->p.if_size, 0, size);
			return 0;
		}
	}
	unm_seterr("netmap_if pool of memory region %u exhausted (%u objects; set "
		   "UNETMAP_IF_NUM)", meta->mem_id, meta->p.if_num);
	return -ENOMEM;
}

void unm_if_free(struct unm_map *m, uint32_t obj)
{
	uint64_t *b = bm(m, m->meta->if_bm_off);
	if (obj < m->meta->p.if_num && bm_test(b, obj)) {
		bm_clr(b, obj);
		m->meta->if_free++;
	}
}

/* Initialise ring object `obj` and its kernel state.  The const members of
 * struct netmap_ring are written once here, before anybody maps them. */
void unm_ring_init(struct unm_map *m, uint32_t obj, uint32_t port, int dir,
		   uint32_t ringid, uint32_t slots, bool with_bufs)
{
	struct netmap_ring *ring = unm_ring_ptr(m, obj);
	struct unm_kring *kr = unm_kring_ptr(m, obj);
	uint64_t ring_off = m->meta->ring_off + (uint64_t)obj * m->meta->p.ring_size;

	memset(ring, 0, sizeof(*ring));
	*(int64_t *)&ring->buf_ofs = (int64_t)m->meta->buf_off - (int64_t)ring_off;
	*(uint32_t *)&ring->nr_buf_size = m->meta->p.buf_size;
	*(uint16_t *)&ring->ringid = (uint16_t)ringid;
	/* netmap's code stores 1 for TX rings and 0 for RX rings */
	*(uint16_t *)&ring->dir = dir == NR_TX ? 1 : 0;
	ring->head = ring->cur = 0;
	ring->tail = dir == NR_TX ? slots - 1 : 0;
	if (with_bufs) {
		m->meta->txn_done = 0;
		m->meta->txn_obj = obj;
	}
	for (uint32_t i = 0; i < slots; i++) {
		struct netmap_slot *s = &ring->slot[i];
		s->buf_idx = 0;
		if (with_bufs && unm_buf_alloc(m, &s->buf_idx) < 0)
			s->buf_idx = 0;
		if (with_bufs)
			m->meta->txn_done = i + 1;
		s->len = with_bufs ? (uint16_t)m->meta->p.buf_size : 0;
		s->flags = 0;
		s->ptr = 0;
	}
	memset(kr, 0, sizeof(*kr));
	kr->ring_obj = obj;
	kr->peer_obj = UNM_NONE;
	kr->dir = (uint16_t)dir;
	kr->ringid = (uint16_t)ringid;
	kr->port = port;
	kr->ring_off = ring_off;
	kr->hwcur = 0;
	kr->rhead = 0;
	kr->rtail = ring->tail;
	kr->tx_hwtail = ring->tail;
	kr->hwtail = dir == NR_TX ? slots - 1 : 0;
	/* last: from here on a teardown frees the slots' buffers */
	*(uint32_t *)&ring->num_slots = slots;
	kr->num_slots = slots;
	m->meta->txn_obj = UNM_NONE;
}

/* After a crash inside unm_ring_init(): give back the buffers already put
 * in the slots of the ring that was being filled. */
void unm_ring_txn_recover(struct unm_map *m)
{
	uint32_t obj = m->meta->txn_obj;
	if (obj >= m->meta->p.ring_num)
		return;
	struct netmap_ring *ring = unm_ring_ptr(m, obj);
	uint32_t n = m->meta->txn_done;
	for (uint32_t i = 0; i < n && i < unm_ring_max_slots(&m->meta->p); i++) {
		unm_buf_free(m, ring->slot[i].buf_idx);
		ring->slot[i].buf_idx = 0;
	}
	m->meta->txn_obj = UNM_NONE;
	m->meta->txn_done = 0;
}

void unm_ring_fini(struct unm_map *m, uint32_t obj, bool free_bufs)
{
	struct netmap_ring *ring = unm_ring_ptr(m, obj);
	if (free_bufs) {
		for (uint32_t i = 0; i < ring->num_slots; i++)
			unm_buf_free(m, ring->slot[i].buf_idx);
	}
	unm_ring_free(m, obj, 1);
}

/* Extra buffers (nr_extra_bufs): a list threaded through the first four
 * bytes of each buffer, 0 terminated. */
uint32_t unm_extra_bufs_alloc(struct unm_map *m, uint32_t want, uint32_t *head)
{
	uint32_t got = 0, prev = 0;
	*head = 0;
	while (got < want) {
		uint32_t idx;
		if (unm_buf_alloc(m, &idx) < 0)
			break;
		char *buf = m->base + m->meta->buf_off + (uint64_t)idx * m->meta->p.buf_size;
		*(uint32_t *)buf = 0;
		if (prev == 0)
			*head = idx;
		else
			*(uint32_t *)(m->base + m->meta->buf_off +
				      (uint64_t)prev * m->meta->p.buf_size) = idx;
		prev = idx;
		got++;
	}
	unm_clearerr();
	return got;
}

/* Free whatever list `head` points to now (netmap: ownership by location at
 * teardown), stopping at an invalid index or after buf_num steps. */
void unm_extra_bufs_free(struct unm_map *m, uint32_t head)
{
	uint32_t idx = head;
	for (uint32_t n = 0; n < m->meta->p.buf_num && idx >= 2 && idx < m->meta->p.buf_num; n++) {
		uint32_t *link = (uint32_t *)(m->base + m->meta->buf_off +
					      (uint64_t)idx * m->meta->p.buf_size);
		uint32_t next = *link;
		*link = 0;
		unm_buf_free(m, idx);
		idx = next;
	}
}
