/*
 * pipe.c - netmap pipes: NAME{ID (master end) and NAME}ID (slave end).
 *
 * Each TX ring of one end is paired with the RX ring of the same index of
 * the other end; both have the same number of slots and use the same slot
 * positions.  txsync copies the slot descriptors (buffer index, length,
 * flags, ptr) the user filled into the peer's RX ring and publishes them.
 * The TX slot keeps its buffer index, so when the receiver releases a slot
 * the buffer is already back where the sender expects it; only a slot whose
 * buffer the receiver swapped (detected against the index recorded when
 * the slot arrived) is copied back.  Buffers travel by index and a packet
 * is never copied, and in the common case the receiver never writes into
 * the sender's cache lines.  Nothing is ever
 * dropped: TX tail follows what the receiver released (backpressure).
 *
 * Shared indices of a pair TX(t) -> RX(r):
 *   r->hwtail  producer position, written by t's txsync   (release/acquire)
 *   r->hwcur   consumer position, written by r's rxsync   (release/acquire)
 *   t->hwcur   == r->hwtail, t's private copy
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include "core/unm.h"


/* every slot holds a valid buffer index and a length that fits it, and
 * none is NS_INDIRECT; branch-free so that the compiler can vectorise it */
static inline bool slots_valid(const struct netmap_slot *s, uint32_t cnt, uint32_t nbufs,
			       uint32_t bufsize)
{
	uint32_t bad = 0;
	for (uint32_t j = 0; j < cnt; j++)
		bad |= (uint32_t)(s[j].buf_idx - 2 >= nbufs - 2) | (uint32_t)(s[j].len > bufsize) |
		       (uint32_t)(s[j].flags & NS_INDIRECT);
	return bad == 0;
}

/* The slow path of slots_valid() (and the path of rings with offsets):
 * NS_INDIRECT slots have their payload
 * copied from the sender's memory (slot.ptr) into the slot's own buffer at
 * publish time, since the receiver cannot read the sender's pointer; the
 * flag is cleared.  False if a slot is invalid. */
static bool slots_fix_indirect(const struct unm_kring *kr, struct netmap_slot *s, uint32_t cnt,
			       char *buf_base, uint32_t nbufs, uint32_t bufsize)
{
	for (uint32_t j = 0; j < cnt; j++) {
		if (s[j].buf_idx - 2 >= nbufs - 2 || s[j].len > bufsize)
			return false;
		/* OFFSETS option: the data starts at the slot's offset (too
		 * big ones are clamped, as netmap does) and must still fit */
		if (kr->offset_mask != 0 && !(s[j].flags & NS_INDIRECT)) {
			uint64_t off = unm_slot_offset(kr, &s[j]);
			if (off + s[j].len > bufsize)
				return false;
			s[j].ptr = (s[j].ptr & ~kr->offset_mask) | off;
		}
		if (s[j].flags & NS_INDIRECT) {
			memcpy(buf_base + (uint64_t)s[j].buf_idx * bufsize,
			       (const void *)(uintptr_t)s[j].ptr, s[j].len);
			s[j].flags &= (uint16_t)~NS_INDIRECT;
		}
	}
	return true;
}

/* the run of released slots still holds the buffers it arrived with */
static inline bool run_matches(const struct netmap_slot *s, const uint32_t *shadow, uint32_t cnt)
{
	uint32_t diff = 0;
	for (uint32_t j = 0; j < cnt; j++)
		diff |= s[j].buf_idx ^ shadow[j];
	return diff == 0;
}

static inline void run_record(uint32_t *shadow, const struct netmap_slot *s, uint32_t cnt)
{
	for (uint32_t j = 0; j < cnt; j++)
		shadow[j] = s[j].buf_idx;
}

/* copy the slots whose buffer was swapped back to the sender; false if
 * one of them holds an invalid buffer index */
static bool give_back(const struct netmap_slot *s, struct netmap_slot *tx, const uint32_t *shadow,
		      uint32_t cnt, uint32_t nbufs)
{
	for (uint32_t j = 0; j < cnt; j++) {
		if (s[j].buf_idx == shadow[j])
			continue;
		if (s[j].buf_idx < 2 || s[j].buf_idx >= nbufs)
			return false;
		tx[j] = s[j];
	}
	return true;
}

static int pipe_txsync(struct unm_fd *f, struct unm_kref *k)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	struct netmap_ring *rxr = k->pring;
	struct unm_kring *rkr = k->pkr;
	const uint32_t n = kr->num_slots;
	const uint32_t nbufs = f->map->meta->p.buf_num, bufsize = f->map->meta->p.buf_size;
	uint32_t head;

	if (unm_unlikely(unm_tx_prologue(k, &head) < 0)) {
		unm_ring_reinit(k, nbufs, bufsize);
		return -1;
	}
	/* What the receiver has been given is the truth: a sender killed
	 * between publishing and updating its private copy left hwcur
	 * behind, and must not leave those slots unaccounted for. */
	uint32_t i = UNM_READ_ONCE(rkr->hwtail);
	if (unm_unlikely(i != kr->hwcur))
		UNM_WRITE_ONCE(kr->hwcur, i);
	if (i != head) {
		/* publish complete packets only: stop after the last slot
		 * without NS_MOREFRAG */
		uint32_t lim = head;
		while (lim != i && (ring->slot[unm_prv(lim, n)].flags & NS_MOREFRAG))
			lim = unm_prv(lim, n);
		uint32_t first = i;
		/* at most two contiguous runs: [i, end) and [0, lim) */
		while (i != lim) {
			uint32_t end = lim > i ? lim : n;
			if (unm_unlikely(!slots_valid(&ring->slot[i], end - i, nbufs, bufsize) ||
					 kr->offset_mask != 0) &&
			    !slots_fix_indirect(kr, &ring->slot[i], end - i,
						f->map->base + f->map->meta->buf_off, nbufs, bufsize)) {
				unm_ring_reinit(k, nbufs, bufsize);
				return -1;
			}
			memcpy(&rxr->slot[i], &ring->slot[i], (end - i) * sizeof(struct netmap_slot));
			i = end == n ? 0 : end;
		}
		/* copy monitors: the sender's (TX) and the receiver's (RX,
		 * at arrival) */
		unm_mon_copy(kr, ring, unm_map_bufs(f->map), first, lim);
		unm_mon_copy(rkr, rxr, unm_map_bufs(f->map), first, lim);
		/* R1: the slots written above become visible to the receiver
		 * before the new producer index (pairs with A1 in rxsync). */
		unm_store_release(&rkr->hwtail, lim);
		UNM_WRITE_ONCE(kr->hwcur, lim);	/* read by pipe_ready() */
		unm_notify(rkr);
	}
	/* A2: read what the receiver released; pairs with R2 in rxsync, so
	 * any buffer it handed back into our slots is seen before reuse. */
	uint32_t cons = unm_load_acquire(&rkr->hwcur);
	uint32_t tail = unm_prv(cons, n);
	/* slots back from the receiver: zero-copy monitors see them now
	 * (netmap: pipe TX after the peer read and the sender synced) */
	unm_zmon_pass(f->map, kr, ring, unm_nxt(kr->tx_hwtail, n), cons, 1);
	UNM_WRITE_ONCE(kr->rtail, tail);
	kr->tx_hwtail = tail;
	/* release: another application thread reading tail sees the slots */
	unm_store_release(&ring->tail, tail);
	return 0;
}

static int pipe_rxsync(struct unm_fd *f, struct unm_kref *k)
{
	struct netmap_ring *ring = k->ring;
	struct unm_kring *kr = k->kr;
	struct netmap_ring *txr = k->pring;
	struct unm_kring *tkr = k->pkr;
	const uint32_t n = kr->num_slots;
	const uint32_t nbufs = f->map->meta->p.buf_num, bufsize = f->map->meta->p.buf_size;
	uint32_t head;
	int ret = 0;

	if (unm_unlikely(unm_rx_prologue(k, &head) < 0)) {
		/* as netmap: reset the ring, but still import new frames */
		unm_ring_reinit(k, nbufs, bufsize);
		head = kr->hwcur;
		ret = -1;
	}
	uint32_t i = kr->hwcur;
	if (i != head) {
		/* Release [hwcur, head).  A slot whose buffer is not the one
		 * it arrived with (the user swapped it) is copied back into
		 * the sender's TX slot; the others already match it, so in
		 * the common case nothing is written on the sender's side. */
		bool bad = false;
		/* zero-copy monitors get the released frames first: a slot
		 * whose buffer they swapped goes back to the sender below */
		unm_zmon_pass(f->map, kr, ring, i, head, 0);
		while (i != head && !bad) {
			uint32_t end = head > i ? head : n;
			if (unm_unlikely(!run_matches(&ring->slot[i], &k->shadow[i], end - i)))
				bad = !give_back(&ring->slot[i], &txr->slot[i], &k->shadow[i],
						 end - i, nbufs);
			i = end == n ? 0 : end;
		}
		if (unm_unlikely(bad)) {
			unm_ring_reinit(k, nbufs, bufsize);
			head = kr->hwcur;
			ret = -1;
		} else {
			/* R2: slots given back above are visible before the
			 * new consumer index (pairs with A2 in txsync). */
			unm_store_release(&kr->hwcur, head);
			unm_notify(tkr);
		}
	}
	/* A1: pairs with R1 in txsync */
	uint32_t prod = unm_load_acquire(&kr->hwtail);
	/* remember the buffer each newly arrived slot brings */
	for (uint32_t j = kr->rtail; j != prod; ) {
		uint32_t end = prod > j ? prod : n;
		run_record(&k->shadow[j], &ring->slot[j], end - j);
		j = end == n ? 0 : end;
	}
	UNM_WRITE_ONCE(kr->rtail, prod);
	unm_store_release(&ring->tail, prod);
	return ret;
}

static bool pipe_ready(const struct unm_kref *k)
{
	const struct unm_kring *kr = k->kr;
	if (kr->dir == NR_RX)
		return UNM_READ_ONCE(kr->hwtail) != UNM_READ_ONCE(kr->rtail);
	/* TX: the receiver released something, or the user queued frames */
	uint32_t cons = UNM_READ_ONCE(k->pkr->hwcur);
	return unm_prv(cons, kr->num_slots) != UNM_READ_ONCE(kr->rtail) ||
	       UNM_READ_ONCE(k->ring->head) != UNM_READ_ONCE(kr->hwcur);
}

const struct unm_port_ops unm_pipe_ops = {
	.name = "pipe",
	.txsync = pipe_txsync,
	.rxsync = pipe_rxsync,
	.ready = pipe_ready,
	.destroy = unm_pipe_destroy_locked,
};

/* ---- control path --------------------------------------------------------- */

static void free_parent_if_unused(uint32_t pidx)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *par = &r->ports[pidx];
	if (par->kind == UNM_PORT_PIPE_PARENT && par->children == 0 && par->refs == 0) {
		unm_mem_unref_locked(par->mem_id);
		memset(par, 0, sizeof(*par));
	} else if (par->kind == UNM_PORT_VALE) {
		unm_vale_put_if_unused_locked(pidx);
	} else if (par->kind == UNM_PORT_NIC && par->refs == 0 && par->children == 0) {
		unm_nic_ops.destroy(pidx);
	}
}

/* Find (or create) the parent of a pipe: an auto-created placeholder that
 * owns a private memory region, unless the request names one with
 * nr_mem_id; an existing network interface as parent puts the pipe in the
 * global region (mem_id 1) as netmap's NIC pipes are. */
static int parent_get(const char *pname, struct nmreq_register *req, uint32_t *out)
{
	struct unm_registry *r = unm_registry();
	uint16_t want_mem = req->nr_mem_id;
	if (unm_vale_name(pname)) {
		/* a VALE port (created if needed, as netmap does): the pipe
		 * lives in its region */
		struct nmreq_register preq = *req;
		return unm_vale_lookup_locked(pname, &preq, true, false, out);
	}
	struct unm_port *par = unm_port_find_locked(pname);
	if (par != NULL) {
		if (par->kind == UNM_PORT_VALE_PERSIST || par->kind == UNM_PORT_NIC) {
			/* a persistent VALE port, or an interface in netmap
			 * mode: the pipe lives in its region */
			*out = (uint32_t)(par - r->ports);
			return 0;
		}
		if (par->kind != UNM_PORT_PIPE_PARENT) {
			unm_seterr("%s cannot be the parent of a pipe", pname);
			return -EINVAL;
		}
		*out = (uint32_t)(par - r->ports);
		return 0;
	}
	uint16_t mem = want_mem;
	int ret;
	if (mem == 0 && if_nametoindex(pname) != 0)
		mem = 1;
	if (mem != 0) {
		if ((ret = unm_mem_get_locked(mem)) < 0)
			return ret;
	} else if ((ret = unm_mem_create_locked(0, false, &mem)) < 0) {
		return ret;
	}
	uint32_t idx;
	unm_mem_ref_locked(mem);
	if ((ret = unm_port_alloc_locked(&idx)) < 0) {
		unm_mem_unref_locked(mem);
		return ret;
	}
	par = &r->ports[idx];
	par->kind = UNM_PORT_PIPE_PARENT;
	snprintf(par->name, sizeof(par->name), "%s", pname);
	par->mem_id = mem;
	par->mem_gen = r->mems[mem].gen;
	par->ready = 1;
	*out = idx;
	return 0;
}

static int end_rings_alloc(struct unm_map *m, struct unm_port *p)
{
	int ret = unm_ring_alloc(m, p->ntx, p->tx_slots, &p->tx_obj);
	if (ret < 0)
		return ret;
	ret = unm_ring_alloc(m, p->nrx, p->rx_slots, &p->rx_obj);
	if (ret < 0) {
		unm_ring_free(m, p->tx_obj, p->ntx);
		return ret;
	}
	return 0;
}

static int pipe_create(const char *name, size_t split, struct nmreq_register *req,
		       uint32_t *port_out)
{
	struct unm_registry *r = unm_registry();
	char pname[UNM_NAME_MAX], other[UNM_NAME_MAX];
	uint32_t pidx, a, b;
	int ret;

	memcpy(pname, name, split);
	pname[split] = '\0';
	snprintf(other, sizeof(other), "%s", name);
	other[split] = name[split] == '{' ? '}' : '{';

	if ((ret = parent_get(pname, req, &pidx)) < 0)
		return ret;
	struct unm_port *par = &r->ports[pidx];
	struct unm_map *m = unm_map_get(par->mem_id, par->mem_gen);
	if (m == NULL) {
		ret = -ENOMEM;
		goto out_parent;
	}
	if ((ret = unm_port_alloc_locked(&a)) < 0)
		goto out_map;
	r->ports[a].kind = UNM_PORT_PIPE;	/* reserve before the second alloc */
	if ((ret = unm_port_alloc_locked(&b)) < 0) {
		memset(&r->ports[a], 0, sizeof(r->ports[a]));
		goto out_map;
	}
	struct unm_port *me = &r->ports[a], *pe = &r->ports[b];
	snprintf(me->name, sizeof(me->name), "%s", name);
	snprintf(pe->name, sizeof(pe->name), "%s", other);
	/* rings 1..256 (default 1), slots 1..4096 (default 1024) */
	me->ntx = unm_bound(req->nr_tx_rings, 1, 1, UNM_MAX_RINGS);
	me->nrx = unm_bound(req->nr_rx_rings, 1, 1, UNM_MAX_RINGS);
	me->tx_slots = unm_bound(req->nr_tx_slots, UNM_DEF_SLOTS, 2, UNM_MAX_SLOTS);
	me->rx_slots = unm_bound(req->nr_rx_slots, UNM_DEF_SLOTS, 2, UNM_MAX_SLOTS);
	pe->ntx = me->nrx;
	pe->nrx = me->ntx;
	pe->tx_slots = me->rx_slots;
	pe->rx_slots = me->tx_slots;
	for (int e = 0; e < 2; e++) {
		struct unm_port *p = e ? pe : me;
		p->kind = UNM_PORT_PIPE;
		p->mem_id = par->mem_id;
		p->mem_gen = par->mem_gen;
		p->parent = pidx;
		p->peer = e ? a : b;
		p->is_master = strchr(p->name + split, '{') != NULL;
	}
	if ((ret = end_rings_alloc(m, me)) < 0)
		goto out_ports;
	if ((ret = end_rings_alloc(m, pe)) < 0) {
		unm_ring_free(m, me->tx_obj, me->ntx);
		unm_ring_free(m, me->rx_obj, me->nrx);
		goto out_ports;
	}
	uint32_t free_before = m->meta->buf_free;
	uint64_t need = (uint64_t)me->ntx * me->tx_slots + (uint64_t)pe->ntx * pe->tx_slots;
	if (need > free_before) {
		unm_seterr("buffer pool of memory region %u exhausted: the pipe needs %llu "
			   "buffers, %u free (set UNETMAP_BUF_NUM)", par->mem_id,
			   (unsigned long long)need, free_before);
		ret = -ENOMEM;
		unm_ring_free(m, me->tx_obj, me->ntx);
		unm_ring_free(m, me->rx_obj, me->nrx);
		unm_ring_free(m, pe->tx_obj, pe->ntx);
		unm_ring_free(m, pe->rx_obj, pe->nrx);
		goto out_ports;
	}
	for (int e = 0; e < 2; e++) {
		struct unm_port *t = e ? pe : me, *x = e ? me : pe;
		uint32_t ti = e ? b : a, xi = e ? a : b;
		for (uint32_t i = 0; i < t->ntx; i++) {
			uint32_t to = t->tx_obj + i, ro = x->rx_obj + i;
			unm_ring_init(m, to, ti, NR_TX, i, t->tx_slots, true);
			unm_ring_init(m, ro, xi, NR_RX, i, t->tx_slots, false);
			struct netmap_ring *tr = unm_ring_ptr(m, to), *rr = unm_ring_ptr(m, ro);
			/* RX slots start with the paired TX buffers: nothing is
			 * visible to the receiver until a txsync overwrites them */
			for (uint32_t j = 0; j < t->tx_slots; j++)
				rr->slot[j].buf_idx = tr->slot[j].buf_idx;
			unm_kring_ptr(m, to)->peer_obj = ro;
			unm_kring_ptr(m, ro)->peer_obj = to;
		}
	}
	me->ready = pe->ready = 1;	/* commit */
	par->children++;
	unm_map_put(m);
	*port_out = a;
	return 0;

out_ports:
	memset(&r->ports[a], 0, sizeof(r->ports[a]));
	memset(&r->ports[b], 0, sizeof(r->ports[b]));
out_map:
	unm_map_put(m);
out_parent:
	free_parent_if_unused(pidx);
	return ret;
}

/* Look up the pipe end `name`; create the pair when `create`.  Returns
 * -ENODEV when it does not exist and may not be created. */
int unm_pipe_lookup_locked(const char *name, struct nmreq_register *req,
			   bool create, uint32_t *port_out)
{
	struct unm_registry *r = unm_registry();
	const char *c = strrchr(name, '{');
	if (c == NULL)
		c = strrchr(name, '}');
	if (c == NULL || c == name || c[1] == '\0') {
		unm_seterr("malformed pipe name %s", name);
		return -EINVAL;
	}
	struct unm_port *p = unm_port_find_locked(name);
	if (p != NULL) {
		if (p->kind != UNM_PORT_PIPE)
			return -EINVAL;
		*port_out = (uint32_t)(p - r->ports);
		return 0;
	}
	if (!create)
		return -ENODEV;
	if (req->nr_mode != NR_REG_ALL_NIC && req->nr_mode != NR_REG_ONE_NIC) {
		unm_seterr("pipes support only NR_REG_ALL_NIC and NR_REG_ONE_NIC");
		return -EINVAL;
	}
	return pipe_create(name, (size_t)(c - name), req, port_out);
}

/* Tear a pair down once neither end has a user.  A buffer is freed from
 * where it is now: for slots sent and not released by the receiver the RX
 * slot is authoritative (the receiver may have swapped it), otherwise the
 * TX slot. */
void unm_pipe_destroy_locked(uint32_t port)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *me = &r->ports[port];
	if (me->kind != UNM_PORT_PIPE || me->peer == UNM_NONE)
		return;
	struct unm_port *pe = &r->ports[me->peer];
	if (me->refs != 0 || pe->refs != 0)
		return;
	uint32_t pidx = me->parent;
	struct unm_map *m = unm_map_get(me->mem_id, me->mem_gen);
	if (pe->kind != UNM_PORT_PIPE || pe->peer != port || !pe->ready) {
		/* a teardown interrupted by a crash already cleared the other
		 * end: free only what this end owns, never through the other
		 * end's (now meaningless) ring fields */
		if (m != NULL) {
			for (uint32_t i = 0; i < me->ntx && me->tx_obj != UNM_NONE; i++)
				unm_ring_fini(m, me->tx_obj + i, true);
			for (uint32_t i = 0; i < me->nrx && me->rx_obj != UNM_NONE; i++)
				unm_ring_fini(m, me->rx_obj + i, false);
			unm_map_put(m);
		}
		memset(me, 0, sizeof(*me));
		goto out_parent;
	}
	if (m != NULL) {
		for (int e = 0; e < 2; e++) {
			struct unm_port *t = e ? pe : me, *x = e ? me : pe;
			for (uint32_t i = 0; i < t->ntx; i++) {
				uint32_t to = t->tx_obj + i, ro = x->rx_obj + i;
				struct netmap_ring *tr = unm_ring_ptr(m, to), *rr = unm_ring_ptr(m, ro);
				struct unm_kring *rk = unm_kring_ptr(m, ro);
				uint32_t n = rk->num_slots, prod = rk->hwtail, held = rk->hwcur;
				for (uint32_t j = 0; j < n; j++) {
					/* sent and not released: RX slot */
					bool in_rx = held <= prod ? (j >= held && j < prod)
								  : (j >= held || j < prod);
					unm_buf_free(m, in_rx ? rr->slot[j].buf_idx
							      : tr->slot[j].buf_idx);
				}
				unm_ring_fini(m, to, false);
				unm_ring_fini(m, ro, false);
			}
		}
		unm_map_put(m);
	}
	/* the end being destroyed goes last: if we die in between, the
	 * survivor is recognised above as an end without its partner */
	memset(pe, 0, sizeof(*pe));
	memset(me, 0, sizeof(*me));
out_parent:
	if (pidx != UNM_NONE && pidx < UNM_MAX_PORTS) {
		if (r->ports[pidx].children > 0)
			r->ports[pidx].children--;
		free_parent_if_unused(pidx);
	}
}
