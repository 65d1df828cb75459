/*
 * monitor.c - copy monitors: PARENT/r, PARENT/t, PARENT/rt.
 *
 * A monitor is a port of its own (private region, 1 unusable TX ring,
 * max(parent TX, parent RX) RX rings).  Registering it adds a reference to
 * its RX ring i in the monitor table of parent ring i (TX ring i with /t,
 * RX ring i with /r).  Whoever moves frames through a monitored parent ring
 * copies them into the monitor's ring in the same call: the parent's own
 * txsync for TX frames, the producer (a VALE sender, the peer of a pipe)
 * at arrival for RX frames.  So a monitor sees frames before the parent
 * application consumes them, as netmap's copy monitors do.
 *
 * Several processes may copy into one monitor ring (several VALE senders
 * into a monitored RX ring): they serialise on the monitor ring's short
 * lock (unm_kr_lock).  A monitor never slows its parent: when its ring is
 * full the oldest of the new frames are dropped and the newest kept.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/unm.h"


/* ---- copies (producer side) ---------------------------------------------------- */

/* Regions of monitors this process copied into stay mapped (one reference
 * held here) so that a copy does not map and unmap the region each time;
 * the least recently added gives way when the cache is full. */
#define HOLD 16
static struct unm_map *held[HOLD];
static unsigned held_next;
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;

static void hold(struct unm_map *m)
{
	pthread_mutex_lock(&held_lock);
	for (unsigned i = 0; i < HOLD; i++) {
		if (held[i] == m) {
			pthread_mutex_unlock(&held_lock);
			return;
		}
	}
	struct unm_map *old = held[held_next];
	held[held_next] = unm_map_get(m->mem_id, m->gen);	/* one more reference */
	held_next = (held_next + 1) % HOLD;
	pthread_mutex_unlock(&held_lock);
	unm_map_put(old);
}

void unm_mon_copy_slow(struct unm_kring *pkr, const struct netmap_ring *pring,
		       struct unm_bufs b, uint32_t from, uint32_t to)
{
	uint32_t pn = pkr->num_slots, cnt = unm_dist(from, to, pn);
	uint32_t nmon = UNM_READ_ONCE(pkr->nmon);
	for (uint32_t e = 0; e < nmon && e < UNM_KR_MONS; e++) {
		struct unm_mon_ref ref;
		memcpy(&ref, &pkr->mon[e], sizeof(ref));
		struct unm_map *m = unm_map_get(ref.mem_id, ref.mem_gen);
		if (m == NULL)
			continue;	/* the monitor is gone */
		hold(m);
		if (ref.ring_obj >= m->meta->p.ring_num) {
			unm_map_put(m);
			continue;
		}
		struct unm_kring *mkr = unm_kring_ptr(m, ref.ring_obj);
		struct netmap_ring *mring = unm_ring_ptr(m, ref.ring_obj);
		unm_kr_lock(mkr);
		/* a table entry read while it changed, or a monitor closing:
		 * the ring must still be that monitor's, open */
		if (!mkr->open || mkr->port != ref.port || mkr->dir != NR_RX) {
			unm_kr_unlock(mkr);
			unm_map_put(m);
			continue;
		}
		uint32_t n = mkr->num_slots;
		uint32_t tail = mkr->hwtail;
		uint32_t space = unm_dist(tail, unm_prv(unm_load_acquire(&mkr->hwcur), n), n);
		/* full: the oldest of the new frames give way */
		uint32_t skip = cnt > space ? cnt - space : 0;
		char *mbase = m->base + m->meta->buf_off;
		uint32_t mbsz = m->meta->p.buf_size, mnb = m->meta->p.buf_num;
		for (uint32_t k = skip, j = (from + skip) % pn; k < cnt; k++, j = unm_nxt(j, pn)) {
			const struct netmap_slot *ps = &pring->slot[j];
			struct netmap_slot *ms = &mring->slot[tail];
			uint32_t len = ps->len < mbsz ? ps->len : mbsz;
			uint32_t mi = ms->buf_idx, pi = ps->buf_idx;
			/* either index may be broken (by the parent's user,
			 * before its sync checks the slot, or by the
			 * monitor's): then an empty copy, never a stray read */
			if (mi - 2 < mnb - 2 && pi - 2 < b.num - 2 && len <= b.size)
				memcpy(mbase + (uint64_t)mi * mbsz, b.base + (uint64_t)pi * b.size, len);
			else
				len = 0;
			ms->len = (uint16_t)len;
			ms->flags = (uint16_t)((ps->flags & ~NS_TXMON) | (ref.tx ? NS_TXMON : 0));
			tail = unm_nxt(tail, n);
		}
		/* R1 as in VALE: copies visible before the new tail */
		unm_store_release(&mkr->hwtail, tail);
		mkr->rx_frames += cnt - skip;
		mkr->drop_full += skip;
		unm_kr_unlock(mkr);
		unm_notify(mkr);
		unm_map_put(m);
	}
}

/* ---- zero-copy monitors (PARENT/z) ---------------------------------------------- */

/* A zero-copy monitor lives in its parent's region.  Its RX ring i is on
 * the chain of the parent's TX ring i and RX ring i (kring.zmon links
 * each ring of a chain to the next).  Whoever releases slots of a ring
 * on a chain -- the parent's user for RX, the sync that gets TX slots back,
 * a monitor's user in its rxsync -- swaps their buffers with the free
 * buffers of the next ring's slots and publishes them there, so each
 * monitor sees a frame after the previous ring's user let go of it.  The
 * parent slot gets the monitor's old buffer and NS_BUF_CHANGED; no buffer
 * is ever copied, created or lost.
 *
 * A monitor whose reader died is stepped over from the first time its
 * ring has no room (the chain goes on past it at once); the control path
 * unlinks it when it collects the dead registration. */

#define ZCHAIN_MAX	64	/* bound on the rings walked for one release */

static bool zmon_reader_dead(struct unm_kring *mkr)
{
	uint32_t pid = UNM_READ_ONCE(mkr->zpid);
	return pid != 0 && !unm_pid_alive((pid_t)pid);
}

void unm_zmon_pass_slow(struct unm_map *m, struct unm_kring *skr, struct netmap_ring *sring,
			uint32_t from, uint32_t to, int txmon)
{
	const uint32_t sn = skr->num_slots, cnt = unm_dist(from, to, sn);
	const uint32_t nbufs = m->meta->p.buf_num;
	uint64_t link = UNM_READ_ONCE(skr->zmon);

	for (int hop = 0; link != 0 && hop < ZCHAIN_MAX; hop++) {
		uint32_t obj = (uint32_t)link - 1, port = (uint32_t)(link >> 32);
		if (obj >= m->meta->p.ring_num)
			return;
		struct unm_kring *mkr = unm_kring_ptr(m, obj);
		struct netmap_ring *mring = unm_ring_ptr(m, obj);
		unm_kr_lock(mkr);
		/* a link read while it changed, or a monitor closing: the
		 * ring must still be that monitor's, open */
		if (!mkr->open || !mkr->zcopy || mkr->port != port || mkr->dir != NR_RX) {
			unm_kr_unlock(mkr);
			return;
		}
		const uint32_t n = mkr->num_slots;
		uint32_t tail = mkr->hwtail;
		/* A2 as in VALE: the reader's released slots and the buffers
		 * it left in them */
		uint32_t space = unm_dist(tail, unm_prv(unm_load_acquire(&mkr->hwcur), n), n);
		if (mkr->zdead || (space < cnt && zmon_reader_dead(mkr))) {
			/* nobody will ever release this ring: step over it
			 * from now on (until a reader syncs it again) */
			mkr->zdead = 1;
			link = UNM_READ_ONCE(mkr->zmon);
			unm_kr_unlock(mkr);
			continue;
		}
		/* full: the oldest of the new slots keep their buffers */
		uint32_t skip = cnt > space ? cnt - space : 0;
		for (uint32_t k = skip, j = (from + skip) % sn; k < cnt; k++, j = unm_nxt(j, sn)) {
			struct netmap_slot *ps = &sring->slot[j];
			struct netmap_slot *ms = &mring->slot[tail];
			uint32_t pb = ps->buf_idx, mb = ms->buf_idx;
			uint16_t fl = ps->flags;
			if (txmon >= 0)
				fl = (uint16_t)((fl & ~NS_TXMON) | (txmon ? NS_TXMON : 0));
			/* either side's user may have broken its slot: then
			 * nothing moves and the monitor sees an empty slot */
			if (pb - 2 < nbufs - 2 && mb - 2 < nbufs - 2) {
				ms->buf_idx = pb;
				ms->len = ps->len;
				ms->ptr = ps->ptr;
				ps->buf_idx = mb;
				ps->flags |= NS_BUF_CHANGED;
			} else {
				ms->len = 0;
			}
			ms->flags = fl | NS_BUF_CHANGED;
			tail = unm_nxt(tail, n);
		}
		/* R1: the slots are visible before the new tail */
		unm_store_release(&mkr->hwtail, tail);
		mkr->rx_frames += cnt - skip;
		mkr->drop_full += skip;
		unm_kr_unlock(mkr);
		unm_notify(mkr);
		return;
	}
}

/* ---- the monitor's own syncs ------------------------------------------------------ */

/* the parent left netmap mode (or is gone): the monitor is unusable */
static bool parent_gone(const struct unm_kring *kr)
{
	struct unm_registry *r = unm_registry();
	uint32_t par = UNM_READ_ONCE(r->ports[kr->port].parent);
	return par >= UNM_MAX_PORTS || UNM_READ_ONCE(r->ports[par].refs) == 0;
}

static int mon_txsync(struct unm_fd *f, struct unm_kref *k)
{
	(void)f;
	(void)k;
	return -2;	/* a monitor cannot transmit: EIO */
}

static int mon_rxsync(struct unm_fd *f, struct unm_kref *k)
{
	const struct unm_region_meta *mt = f->map->meta;
	uint32_t head;

	if (unm_unlikely(unm_rx_prologue(k, &head) < 0)) {
		unm_ring_reinit(k, mt->p.buf_num, mt->p.buf_size);
		return -1;
	}
	if (unm_unlikely(parent_gone(k->kr)))
		return -2;
	struct unm_kring *kr = k->kr;
	if (kr->zcopy) {
		uint32_t me = unm_self_pid();
		if (unm_unlikely(UNM_READ_ONCE(kr->zpid) != me)) {
			UNM_WRITE_ONCE(kr->zpid, me);
			UNM_WRITE_ONCE(kr->zdead, 0);
		}
		/* released slots go down the chain before they go back */
		unm_zmon_pass(f->map, kr, k->ring, kr->hwcur, head, -1);
	}
	unm_rx_import(k, head);
	return 0;
}

static bool mon_ready(const struct unm_kref *k)
{
	const struct unm_kring *kr = k->kr;
	return kr->dir == NR_RX && UNM_READ_ONCE(kr->hwtail) != UNM_READ_ONCE(kr->rtail);
}

static void mon_destroy(uint32_t idx);

const struct unm_port_ops unm_mon_ops = {
	.name = "monitor",
	.txsync = mon_txsync,
	.rxsync = mon_rxsync,
	.ready = mon_ready,
	.destroy = mon_destroy,
};

/* ---- control path ----------------------------------------------------------------- */

/* Append ring `obj` of zero-copy monitor `port` to the chain that starts
 * at parent ring `pkr` (or with `del`, take it out: its predecessor then
 * links to its successor, so the chain stays whole).  The monitor's ring
 * is in the parent's region `m`. */
static void zchain_update(struct unm_map *m, struct unm_kring *pkr, uint32_t obj, uint32_t port,
			  bool del)
{
	uint64_t mine = (uint64_t)(obj + 1) | (uint64_t)port << 32;
	struct unm_kring *cur = pkr;
	for (int hop = 0; hop < ZCHAIN_MAX + 1; hop++) {
		uint64_t link = cur->zmon;
		if (!del && link == mine)
			return;		/* linked already (the other direction's chain) */
		if (del && link == mine) {
			UNM_WRITE_ONCE(cur->zmon, unm_kring_ptr(m, obj)->zmon);
			return;
		}
		if (link == 0 || (uint32_t)link - 1 >= m->meta->p.ring_num) {
			if (!del) {
				unm_kring_ptr(m, obj)->zmon = 0;
				/* release: the ring's state before the link */
				unm_store_release(&cur->zmon, mine);
			}
			return;
		}
		cur = unm_kring_ptr(m, (uint32_t)link - 1);
	}
}

/* add (or with `del`, remove) the references of monitor `idx` in the rings
 * of its parent */
static int refs_update(uint32_t idx, bool del)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *p = &r->ports[idx];
	if (p->parent >= UNM_MAX_PORTS)
		return 0;
	struct unm_port *par = &r->ports[p->parent];
	struct unm_map *pm = unm_map_get(par->mem_id, par->mem_gen);
	if (pm == NULL)
		return del ? 0 : -ENOMEM;
	int ret = 0;
	for (int d = 0; d < 2; d++) {
		uint32_t first = d ? p->rx_first_mon : p->tx_first_mon;
		uint32_t last = d ? p->rx_last_mon : p->tx_last_mon;
		uint32_t pobj = d ? par->rx_obj : par->tx_obj;
		for (uint32_t i = first; i < last && ret == 0; i++) {
			struct unm_kring *pkr = unm_kring_ptr(pm, pobj + i);
			if (p->flags & UNM_PF_ZCOPY) {
				zchain_update(pm, pkr, p->rx_obj + i, idx, del);
				continue;
			}
			if (del) {
				for (uint32_t e = 0; e < pkr->nmon; e++) {
					if (pkr->mon[e].port != idx)
						continue;
					/* move the last entry here; a copier reading
					 * the torn entry finds a ring that is not its
					 * monitor's and skips it */
					pkr->mon[e] = pkr->mon[pkr->nmon - 1];
					unm_store_release(&pkr->nmon, pkr->nmon - 1);
					e--;
				}
				continue;
			}
			if (pkr->nmon >= UNM_KR_MONS) {
				unm_seterr("more than %d monitors on a ring of %s", UNM_KR_MONS,
					   par->name);
				ret = -ENOMEM;
				break;
			}
			struct unm_mon_ref *ref = &pkr->mon[pkr->nmon];
			ref->mem_id = p->mem_id;
			ref->mem_gen = p->mem_gen;
			ref->ring_obj = p->rx_obj + i;
			ref->port = idx;
			ref->tx = d == 0;
			unm_store_release(&pkr->nmon, pkr->nmon + 1);
		}
	}
	unm_map_put(pm);
	if (ret < 0)
		refs_update(idx, true);
	return ret;
}

int unm_mon_create_locked(const char *name, uint32_t parent, struct nmreq_register *req,
			  const uint32_t watch[4], uint32_t *port_out)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *par = &r->ports[parent];
	uint16_t mem;
	uint32_t idx;
	int ret;

	if (par->kind == UNM_PORT_MONITOR || par->refs == 0) {
		unm_seterr("%s is not in netmap mode: nothing to monitor", name);
		return -EINVAL;
	}
	uint32_t nrx = par->ntx > par->nrx ? par->ntx : par->nrx;
	/* netmap: the parent's RX slot count (a TX ring's frames fit, or
	 * the oldest give way as for any full monitor ring) */
	uint32_t slots = unm_bound(req->nr_rx_slots, par->rx_slots ? par->rx_slots : par->tx_slots,
				   1, UNM_MAX_SLOTS);
	if (nrx == 0)
		nrx = 1;
	bool zcopy = req->nr_flags & NR_ZCOPY_MON;
	if (zcopy) {
		/* the parent's region: buffers move by index */
		mem = par->mem_id;
	} else {
		uint64_t bufs = (uint64_t)(nrx + 1) * slots + 1024;
		if ((ret = unm_mem_create_sized_locked((uint32_t)bufs, nrx + 9, 0666, &mem)) < 0)
			return ret;
	}
	unm_mem_ref_locked(mem);
	if ((ret = unm_port_alloc_locked(&idx)) < 0) {
		unm_mem_unref_locked(mem);
		return ret;
	}
	struct unm_port *p = &r->ports[idx];
	p->kind = UNM_PORT_MONITOR;
	char pname[UNM_NAME_MAX];
	memcpy(pname, par->name, sizeof(pname));
	pname[sizeof(pname) - 1] = '\0';
	if (zcopy)
		snprintf(p->name, sizeof(p->name), "%.60s/z", pname);
	else
		snprintf(p->name, sizeof(p->name), "%.60s/%s%s", pname,
			 req->nr_flags & NR_MONITOR_RX ? "r" : "",
			 req->nr_flags & NR_MONITOR_TX ? "t" : "");
	p->flags = zcopy ? UNM_PF_ZCOPY : 0;
	p->mem_id = mem;
	p->mem_gen = r->mems[mem].gen;
	p->parent = parent;
	p->tx_first_mon = watch[0];
	p->tx_last_mon = watch[1];
	p->rx_first_mon = watch[2];
	p->rx_last_mon = watch[3];
	p->ntx = 1;
	p->nrx = nrx;
	p->tx_slots = p->rx_slots = slots;
	struct unm_map *m = unm_map_get(mem, p->mem_gen);
	if (m == NULL) {
		ret = -ENOMEM;
		goto out_port;
	}
	if ((ret = unm_ring_alloc(m, 1, slots, &p->tx_obj)) < 0)
		goto out_map;
	if ((ret = unm_ring_alloc(m, nrx, slots, &p->rx_obj)) < 0) {
		unm_ring_free(m, p->tx_obj, 1);
		goto out_map;
	}
	/* the TX ring cannot be used: a zero-copy monitor does not take
	 * buffers of its parent's pool for it */
	unm_ring_init(m, p->tx_obj, idx, NR_TX, 0, slots, !zcopy);
	for (uint32_t i = 0; i < nrx; i++) {
		unm_ring_init(m, p->rx_obj + i, idx, NR_RX, i, slots, true);
		struct unm_kring *kr = unm_kring_ptr(m, p->rx_obj + i);
		kr->zcopy = zcopy;
		kr->open = 1;
	}
	/* a pool that ran out while filling the rings left 0 in the last slots */
	bool short_bufs = false;
	for (uint32_t i = 0; i < nrx; i++)
		short_bufs |= unm_ring_ptr(m, p->rx_obj + i)->slot[slots - 1].buf_idx == 0;
	if (short_bufs) {
		unm_seterr("%s: buffer pool of memory region %u exhausted", p->name, mem);
		unm_map_put(m);
		mon_destroy(idx);
		return -ENOMEM;
	}
	unm_map_put(m);
	m = NULL;
	if ((ret = refs_update(idx, false)) < 0) {
		mon_destroy(idx);
		return ret;
	}
	p->ready = 1;	/* commit */
	*port_out = idx;
	return 0;
out_map:
	unm_map_put(m);
out_port:
	memset(p, 0, sizeof(*p));
	unm_mem_unref_locked(mem);
	return ret;
}

static void mon_destroy(uint32_t idx)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *p = &r->ports[idx];
	if (p->kind != UNM_PORT_MONITOR || p->refs != 0)
		return;
	refs_update(idx, true);
	struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
	if (m != NULL) {
		for (uint32_t i = 0; p->rx_obj != UNM_NONE && i < p->nrx; i++) {
			struct unm_kring *kr = unm_kring_ptr(m, p->rx_obj + i);
			/* copiers check `open` under the ring lock */
			unm_kr_lock(kr);
			kr->open = 0;
			unm_kr_unlock(kr);
			unm_ring_fini(m, p->rx_obj + i, true);
		}
		if (p->tx_obj != UNM_NONE)
			unm_ring_fini(m, p->tx_obj, true);
		unm_map_put(m);
	}
	uint16_t mem = p->mem_id;
	memset(p, 0, sizeof(*p));
	unm_mem_unref_locked(mem);
}

/* after a port went away: monitors of it become unusable (their rxsync
 * answers EIO); the parent's rings, and their tables, are gone with it */
void unm_mon_orphans_locked(void)
{
	struct unm_registry *r = unm_registry();
	for (uint32_t i = 0; i < r->port_hwm; i++) {
		struct unm_port *p = &r->ports[i];
		if (p->kind != UNM_PORT_MONITOR || p->parent >= UNM_MAX_PORTS)
			continue;
		struct unm_port *par = &r->ports[p->parent];
		size_t pl = strlen(par->name);
		if (par->kind == UNM_PORT_FREE || strncmp(p->name, par->name, pl) != 0 ||
		    p->name[pl] != '/')
			UNM_WRITE_ONCE(p->parent, UNM_NONE);
	}
}
