/*
 * ctl.c - the control plane: NIOCCTRL request decoding (header, body,
 * options) and the requests REGISTER, PORT_INFO_GET, POOLS_INFO_GET and
 * PORT_HDR_GET; binding and unbinding of registrations.
 *
 * Error values follow netmap (reference §2.2-2.5); handlers return 0 or a
 * negative errno, unm_ctl() turns that into the ioctl's -1/errno.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include "core/unm.h"
#include "unetmap.h"

/* ---- user pointers --------------------------------------------------------- */

/* Is [p, p+len) readable memory of this process?  The kernel answers
 * EFAULT for a bad request pointer; so do we, instead of crashing.  Asks
 * the kernel with process_vm_readv() on ourselves (control path only); if
 * that call is not allowed here (seccomp), trusts the pointer. */
bool unm_user_ok(const void *p, size_t len)
{
	char scratch[512];
	if (p == NULL)
		return false;
	for (size_t off = 0; off < len; off += sizeof(scratch)) {
		size_t n = len - off < sizeof(scratch) ? len - off : sizeof(scratch);
		struct iovec local = { scratch, n };
		struct iovec remote = { (char *)(uintptr_t)p + off, n };
		ssize_t r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
		if (r < 0 && errno == EFAULT)
			return false;
		if (r < 0)
			return true;	/* not permitted here: cannot tell */
	}
	return true;
}

/* ---- options ------------------------------------------------------------ */

#define MAX_OPTS (NETMAP_REQ_MAXSIZE / (int)sizeof(struct nmreq_option))

struct opts {
	int n;
	struct nmreq_option *o[MAX_OPTS];
	uint32_t status[MAX_OPTS];
};

static size_t opt_body_size(const struct nmreq_option *o)
{
	switch (o->nro_reqtype) {
	case NETMAP_REQ_OPT_EXTMEM:		return sizeof(struct nmreq_opt_extmem);
	case NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS: return o->nro_size;
	case NETMAP_REQ_OPT_CSB:		return sizeof(struct nmreq_opt_csb);
	case NETMAP_REQ_OPT_SYNC_KLOOP_MODE:	return sizeof(struct nmreq_opt_sync_kloop_mode);
	case NETMAP_REQ_OPT_OFFSETS:		return sizeof(struct nmreq_opt_offsets);
	case UNETMAP_REQ_OPT_NIC:		return sizeof(struct unetmap_opt_nic);
	default:				return sizeof(struct nmreq_option);
	}
}

/* Walk the option list as netmap's copy-in does: at most
 * NETMAP_REQ_MAXSIZE bytes in all (8 bytes of overhead per option), so a
 * looping list ends in EMSGSIZE or, when a known type repeats, EINVAL. */
static int opts_walk(const struct nmreq_header *hdr, size_t body_size, struct opts *os)
{
	size_t total = body_size;
	int ret = 0;
	os->n = 0;
	for (uint64_t p = hdr->nr_options; p != 0; ) {
		struct nmreq_option *o = (struct nmreq_option *)(uintptr_t)p;
		if (os->n == MAX_OPTS)
			return -EMSGSIZE;
		if (!unm_user_ok(o, sizeof(*o)))
			return -EFAULT;
		size_t sz = opt_body_size(o);
		if (sz > sizeof(*o) && sz <= NETMAP_REQ_MAXSIZE && !unm_user_ok(o, sz))
			return -EFAULT;
		total += sz + 8;
		if (sz < sizeof(*o) || total > NETMAP_REQ_MAXSIZE)
			return -EMSGSIZE;
		int i = os->n++;
		os->o[i] = o;
		os->status[i] = EOPNOTSUPP;
		if (o->nro_reqtype == 0) {
			os->status[i] = EINVAL;
			ret = -EINVAL;
			break;
		}
		if (o->nro_reqtype < NETMAP_REQ_OPT_MAX) {
			for (int j = 0; j < i; j++) {
				if (os->o[j]->nro_reqtype == o->nro_reqtype) {
					os->status[i] = os->status[j] = EINVAL;
					ret = -EINVAL;
				}
			}
			if (ret < 0)
				break;
		}
		p = o->nro_next;
	}
	return ret;
}

static void opts_writeback(struct opts *os)
{
	for (int i = 0; i < os->n; i++)
		os->o[i]->nro_status = os->status[i];
}

static bool opts_unconsumed(const struct opts *os)
{
	for (int i = 0; i < os->n; i++)
		if (os->status[i] == EOPNOTSUPP)
			return true;
	return false;
}

/* ---- port lookup ---------------------------------------------------------- */

/* The lookup cascade of reference §3.3, for the port kinds that exist.
 * `create` allows creating pipes. */
static int port_lookup_locked(const char *name, struct nmreq_register *req, bool create,
			      uint32_t *port)
{
	if (strchr(name, '{') != NULL || strchr(name, '}') != NULL)
		return unm_pipe_lookup_locked(name, req, create, port);
	if (unm_vale_name(name))
		return unm_vale_lookup_locked(name, req, create, create, port);
	struct unm_port *pp = unm_port_find_locked(name);
	if (pp != NULL && pp->kind == UNM_PORT_VALE_PERSIST) {
		*port = (uint32_t)(pp - unm_registry()->ports);
		return 0;
	}
	if (name[0] != '\0' && if_nametoindex(name) != 0)
		return unm_nic_lookup_locked(name, req, create, port);
	unm_seterr("no such port or interface: %s", name);
	return -ENXIO;
}

/* drop a port that a query created and nobody uses */
static void port_put_if_unused(uint32_t idx)
{
	struct unm_port *p = &unm_registry()->ports[idx];
	if (p->kind != UNM_PORT_FREE && p->refs == 0)
		unm_port_destroy_locked(idx);
}

static void reg_unbind_locked(uint32_t idx);

/* ---- REGISTER ------------------------------------------------------------- */

struct range { uint32_t tx_first, tx_last, rx_first, rx_last; };

static int select_rings(const struct unm_port *p, const struct nmreq_register *req,
			struct range *rg)
{
	uint32_t n = req->nr_ringid & NETMAP_RING_MASK;
	switch (req->nr_mode) {
	case NR_REG_ALL_NIC:
	case NR_REG_NULL:
		*rg = (struct range){ 0, p->ntx, 0, p->nrx };
		break;
	case NR_REG_ONE_NIC:
		if (n >= p->ntx && n >= p->nrx) {
			unm_seterr("ring %u out of range (%u tx, %u rx rings)", n, p->ntx, p->nrx);
			return -EINVAL;
		}
		rg->tx_first = n < p->ntx ? n : 0;
		rg->tx_last = p->ntx ? rg->tx_first + 1 : 0;
		rg->rx_first = n < p->nrx ? n : 0;
		rg->rx_last = p->nrx ? rg->rx_first + 1 : 0;
		break;
	case NR_REG_SW:
	case NR_REG_NIC_SW:
	case NR_REG_ONE_SW:
		if (p->nhost == 0) {
			unm_seterr("%s has no host rings", p->name);
			return -EINVAL;
		}
		if (req->nr_mode == NR_REG_ONE_SW && n >= p->nhost) {
			unm_seterr("host ring %u out of range (%u host rings)", n, p->nhost);
			return -EINVAL;
		}
		/* host rings follow the hardware rings (ring ids ntx, nrx) */
		*rg = (struct range){ p->ntx, p->ntx + p->nhost, p->nrx, p->nrx + p->nhost };
		if (req->nr_mode == NR_REG_NIC_SW)
			rg->tx_first = rg->rx_first = 0;
		else if (req->nr_mode == NR_REG_ONE_SW)
			*rg = (struct range){ p->ntx + n, p->ntx + n + 1, p->nrx + n, p->nrx + n + 1 };
		break;
	default:
		unm_seterr("invalid register mode %u", req->nr_mode);
		return -EINVAL;
	}
	if (req->nr_flags & NR_TX_RINGS_ONLY)
		rg->rx_first = rg->rx_last = 0;
	if (req->nr_flags & NR_RX_RINGS_ONLY)
		rg->tx_first = rg->tx_last = 0;
	return 0;
}

static int bind_check(struct unm_map *m, const struct unm_port *p, const struct range *rg,
		      bool excl)
{
	for (uint32_t i = rg->tx_first; i < rg->tx_last; i++) {
		struct unm_kring *kr = unm_kring_ptr(m, p->tx_obj + i);
		if (kr->excl || (excl && kr->users))
			return -EBUSY;
	}
	for (uint32_t i = rg->rx_first; i < rg->rx_last; i++) {
		struct unm_kring *kr = unm_kring_ptr(m, p->rx_obj + i);
		if (kr->excl || (excl && kr->users))
			return -EBUSY;
	}
	return 0;
}

static void bind_rings(struct unm_map *m, const struct unm_port *p, const struct unm_reg *g,
		       uint32_t idx, int delta)
{
	bool excl = g->flags & NR_EXCLUSIVE;
	const struct unm_port_ops *ops = unm_port_ops(p->kind);
	for (int d = 0; d < 2; d++) {
		uint32_t first = d ? g->rx_first : g->tx_first;
		uint32_t last = d ? g->rx_last : g->tx_last;
		uint32_t obj = d ? p->rx_obj : p->tx_obj;
		for (uint32_t i = first; i < last; i++) {
			struct unm_kring *kr = unm_kring_ptr(m, obj + i);
			if (delta > 0) {
				kr->users++;
				if (excl)
					kr->excl = 1;
				unm_waiter_add_locked(kr, idx, g->gen);
			} else {
				if (kr->users)
					kr->users--;
				if (excl)
					kr->excl = 0;
				unm_waiter_del_locked(kr, idx, g->gen);
			}
			if (ops != NULL && ops->bind != NULL)
				ops->bind(m, kr);
		}
	}
}

/* Registrations of port `name` whose creating process is gone and whose
 * fd nobody holds any more are released now rather than at the next
 * periodic collection: a new user must not inherit a dead user's rings
 * (e.g. VALE TX slots it had forwarded but not yet accounted). */
static void reap_dead_users(const char *name)
{
	struct unm_registry *r = unm_registry();
	pid_t me = getpid();
	for (uint32_t i = 0; i < r->reg_hwm; i++) {
		struct unm_reg *g = &r->regs[i];
		if (g->state != UNM_REG_BOUND || g->pid == me ||
		    strcmp(r->ports[g->port].name, name) != 0 || unm_pid_alive(g->pid))
			continue;
		if (unm_reg_dead_locked(i))
			unm_reg_release_locked(i);
	}
}

/* the options of the request being handled (set by unm_ctl) */
static __thread struct opts *ctl_opts;

static int opt_find(uint32_t type)
{
	for (int i = 0; ctl_opts != NULL && i < ctl_opts->n; i++)
		if (ctl_opts->o[i]->nro_reqtype == type)
			return i;
	return -1;
}

/* NETMAP_REQ_OPT_OFFSETS (reference §2.4): check it against the rings to
 * bind; 0, or a negative errno (also left in the option's status) */
static int offsets_check(struct unm_map *m, const struct unm_port *p, const struct range *rg,
			 int oi, uint64_t *mask_out)
{
	struct nmreq_opt_offsets *o = (struct nmreq_opt_offsets *)ctl_opts->o[oi];
	uint32_t bits = o->nro_offset_bits;
	uint64_t mask = bits == 0 || bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
	int ret = 0;
	if (p->flags & UNM_PF_ZCOPY) {
		/* buffers move between the parent's slots and the monitor's:
		 * an offset would mean different things on the two sides */
		unm_seterr("offsets: not supported by zero-copy monitors");
		ctl_opts->status[oi] = EOPNOTSUPP;
		*mask_out = 0;
		return -EOPNOTSUPP;
	}
	if (bits > 64 || o->nro_max_offset > m->meta->p.buf_size ||
	    (o->nro_max_offset & ~mask) != 0 || o->nro_initial_offset > o->nro_max_offset) {
		unm_seterr("offsets: bits %u, max %llu, initial %llu not valid for %u-byte buffers",
			   bits, (unsigned long long)o->nro_max_offset,
			   (unsigned long long)o->nro_initial_offset, m->meta->p.buf_size);
		ret = -EINVAL;
	}
	for (int d = 0; d < 2 && ret == 0; d++) {
		uint32_t first = d ? rg->rx_first : rg->tx_first, last = d ? rg->rx_last : rg->tx_last;
		for (uint32_t i = first; i < last; i++) {
			struct unm_kring *kr = unm_kring_ptr(m, (d ? p->rx_obj : p->tx_obj) + i);
			if (kr->users > 0 && ((kr->offset_mask & mask) != mask ||
					      kr->offset_max < o->nro_max_offset)) {
				unm_seterr("offsets: a ring is in use with smaller offsets");
				ret = -EBUSY;
			}
		}
	}
	ctl_opts->status[oi] = ret < 0 ? (uint32_t)-ret : 0;
	*mask_out = mask;
	return ret;
}

/* Set a ring's offsets as its first user asks (none: none). */
static void offsets_apply(struct unm_map *m, const struct unm_port *p, const struct range *rg,
			  int oi, uint64_t mask)
{
	struct nmreq_opt_offsets *o = oi >= 0 ? (struct nmreq_opt_offsets *)ctl_opts->o[oi] : NULL;
	for (int d = 0; d < 2; d++) {
		uint32_t first = d ? rg->rx_first : rg->tx_first, last = d ? rg->rx_last : rg->tx_last;
		for (uint32_t i = first; i < last; i++) {
			uint32_t obj = (d ? p->rx_obj : p->tx_obj) + i;
			struct unm_kring *kr = unm_kring_ptr(m, obj);
			struct netmap_ring *ring = unm_ring_ptr(m, obj);
			if (kr->users > 1)
				continue;	/* the first user decided */
			kr->offset_mask = o ? mask : 0;
			kr->offset_max = o ? o->nro_max_offset : 0;
			*(uint64_t *)&ring->offset_mask = kr->offset_mask;
			for (uint32_t j = 0; o != NULL && j < kr->num_slots; j++)
				ring->slot[j].ptr = (ring->slot[j].ptr & ~mask) |
						    (o->nro_initial_offset & mask);
		}
	}
	if (o != NULL) {
		/* the effective maximum: the first user's */
		uint32_t obj = rg->tx_last > rg->tx_first ? p->tx_obj + rg->tx_first
							  : p->rx_obj + rg->rx_first;
		if (rg->tx_last > rg->tx_first || rg->rx_last > rg->rx_first)
			o->nro_max_offset = unm_kring_ptr(m, obj)->offset_max;
	}
}

/* A copy monitor of port `name` (which must be in netmap mode), watching
 * the parent rings the request's mode and ring id select. */
static int monitor_create(const char *name, struct nmreq_register *req, uint32_t *pidx)
{
	uint32_t par;
	int ret = port_lookup_locked(name, req, false, &par);
	if (ret < 0) {
		unm_seterr("%s: no such port in netmap mode to monitor", name);
		return ret == -ENXIO || ret == -ENODEV ? -EINVAL : ret;
	}
	struct range prg;
	if ((ret = select_rings(&unm_registry()->ports[par], req, &prg)) < 0)
		return ret;
	uint32_t watch[4] = {
		req->nr_flags & NR_MONITOR_TX ? prg.tx_first : 0,
		req->nr_flags & NR_MONITOR_TX ? prg.tx_last : 0,
		req->nr_flags & NR_MONITOR_RX ? prg.rx_first : 0,
		req->nr_flags & NR_MONITOR_RX ? prg.rx_last : 0,
	};
	return unm_mon_create_locked(name, par, req, watch, pidx);
}

static int do_register(struct unm_fd *f, struct nmreq_header *hdr, struct nmreq_register *req)
{
	struct unm_registry *r = unm_registry();
	uint32_t pidx;
	int ret;

	if (f->bound)
		return -EBUSY;
	if (req->nr_mode == NR_REG_DEFAULT || req->nr_mode == NR_REG_PIPE_MASTER ||
	    req->nr_mode == NR_REG_PIPE_SLAVE || req->nr_mode > NR_REG_ONE_SW) {
		unm_seterr("invalid register mode %u", req->nr_mode);
		return -EINVAL;
	}
	if ((ret = unm_lock()) < 0)
		return ret;
	unm_fault("register-locked");
	unm_gc_locked(false);
	if (req->nr_mem_id != 0 && (ret = unm_mem_get_locked(req->nr_mem_id)) < 0)
		goto out;
	/* as netmap: a zero-copy monitor watches both directions */
	if (req->nr_flags & NR_ZCOPY_MON)
		req->nr_flags |= NR_MONITOR_TX | NR_MONITOR_RX;
	reap_dead_users(hdr->nr_name);
	bool mon = req->nr_flags & (NR_MONITOR_TX | NR_MONITOR_RX);
	if (mon)
		ret = monitor_create(hdr->nr_name, req, &pidx);
	else if (req->nr_mode == NR_REG_NULL)
		ret = unm_null_create_locked(hdr->nr_name, req, &pidx);
	else
		ret = port_lookup_locked(hdr->nr_name, req, true, &pidx);
	if (ret < 0)
		goto out;
	struct unm_port *p = &r->ports[pidx];
	/* NICs on VALE (vale_nic.c): an interface attached to a switch and its
	 * switch ports belong to the attachment's helper (netmap: EBUSY) */
	if (!mon && (ret = unm_vnic_owner_check_locked(pidx)) < 0)
		goto out_port;
	struct range rg;
	if (p->hdr_len != 0 && !(req->nr_flags & NR_ACCEPT_VNET_HDR)) {
		/* as netmap: the application must declare it handles the
		 * virtio-net header the port carries */
		unm_seterr("%s carries a %u-byte virtio-net header: register with "
			   "NR_ACCEPT_VNET_HDR", p->name, p->hdr_len);
		ret = -EIO;
		goto out_port;
	}
	if (mon) {
		/* the monitor's RX ring i for each watched parent ring i */
		uint32_t lo = p->tx_first_mon < p->tx_last_mon ? p->tx_first_mon : p->rx_first_mon;
		uint32_t hi = p->tx_last_mon > p->rx_last_mon ? p->tx_last_mon : p->rx_last_mon;
		if (p->rx_first_mon < p->rx_last_mon && p->rx_first_mon < lo)
			lo = p->rx_first_mon;
		rg = (struct range){ 0, p->ntx, lo, hi > lo ? hi : lo + 1 };
	}
	else if ((ret = select_rings(p, req, &rg)) < 0)
		goto out_port;
	struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
	if (m == NULL) {
		ret = -ENOMEM;
		goto out_port;
	}
	if ((ret = bind_check(m, p, &rg, req->nr_flags & NR_EXCLUSIVE)) < 0) {
		/* the holder may be dead: collect and retry once */
		unm_gc_locked(true);
		ret = bind_check(m, p, &rg, req->nr_flags & NR_EXCLUSIVE);
		if (ret < 0) {
			unm_seterr("%s: ring already in use (exclusive)", hdr->nr_name);
			goto out_map;
		}
	}
	int ni = opt_find(UNETMAP_REQ_OPT_NIC);
	if (ni >= 0 && p->kind == UNM_PORT_NIC) {
		const struct unetmap_opt_nic *no = (const struct unetmap_opt_nic *)ctl_opts->o[ni];
		if (no->nro_mode > UNETMAP_NIC_MODE_PACKET) {
			unm_seterr("%s: NIC mode %u not known", p->name, no->nro_mode);
			ctl_opts->status[ni] = EINVAL;
			ret = -EINVAL;
			goto out_map;
		}
		ctl_opts->status[ni] = 0;
		unm_nic_req_mode = (int)no->nro_mode + 1;	/* for the NIC's fd_attach */
	}
	int oi = opt_find(NETMAP_REQ_OPT_OFFSETS);
	uint64_t omask = 0;
	if (oi >= 0 && (ret = offsets_check(m, p, &rg, oi, &omask)) < 0)
		goto out_map;
	/* netmap_if: hardware rings, then one (fake) host ring, per direction */
	uint32_t nh = p->nhost ? p->nhost : 1;
	uint32_t ntx_e = p->ntx + nh, nrx_e = p->nrx + nh;
	size_t ifsize = sizeof(struct netmap_if) + sizeof(ssize_t) * (ntx_e + nrx_e);
	uint32_t ifobj;
	if ((ret = unm_if_alloc(m, ifsize, &ifobj)) < 0)
		goto out_map;
	uint64_t if_off = m->meta->if_off + (uint64_t)ifobj * m->meta->p.if_size;
	struct netmap_if *nifp = (struct netmap_if *)(m->base + if_off);
	snprintf((char *)nifp->ni_name, sizeof(nifp->ni_name), "%s", p->name);
	*(uint32_t *)&nifp->ni_flags = (r->mems[p->mem_id].flags & UNM_MEM_GLOBAL) ? 0 : NI_PRIV_MEM;
	*(uint32_t *)&nifp->ni_tx_rings = p->ntx;
	*(uint32_t *)&nifp->ni_rx_rings = p->nrx;
	*(uint32_t *)&nifp->ni_host_tx_rings = p->nhost ? p->nhost : 1;
	*(uint32_t *)&nifp->ni_host_rx_rings = p->nhost ? p->nhost : 1;
	ssize_t *ofs = (ssize_t *)nifp->ring_ofs;
	for (uint32_t i = rg.tx_first; i < rg.tx_last; i++)
		ofs[i] = (ssize_t)(unm_kring_ptr(m, p->tx_obj + i)->ring_off - if_off);
	for (uint32_t i = rg.rx_first; i < rg.rx_last; i++)
		ofs[ntx_e + i] = (ssize_t)(unm_kring_ptr(m, p->rx_obj + i)->ring_off - if_off);
	uint32_t head = 0;
	uint32_t got = req->nr_extra_bufs ?
		       unm_extra_bufs_alloc(m, req->nr_extra_bufs, &head) : 0;
	nifp->ni_bufs_head = head;

	struct unm_reg *g = &r->regs[f->reg];
	g->port = pidx;
	g->mem_id = p->mem_id;
	g->mem_gen = p->mem_gen;
	g->mode = req->nr_mode;
	g->ringid = req->nr_ringid;
	g->flags = req->nr_flags;
	g->if_off = if_off;
	g->if_obj = ifobj;
	g->tx_first = rg.tx_first;
	g->tx_last = rg.tx_last;
	g->rx_first = rg.rx_first;
	g->rx_last = rg.rx_last;
	bind_rings(m, p, g, f->reg, +1);
	offsets_apply(m, p, &rg, oi, omask);
	p->refs++;
	unm_mem_ref_locked(p->mem_id);
	unm_fault("register-half");	/* counters updated, not committed */
	/* commit point: unm_repair_locked() rebuilds every counter from the
	 * registrations in state BOUND, so dying before this store leaves
	 * nothing behind that a repair does not undo */
	g->state = UNM_REG_BOUND;

	req->nr_offset = if_off;
	req->nr_memsize = m->meta->memsize;
	req->nr_tx_slots = p->tx_slots;
	req->nr_rx_slots = p->rx_slots;
	req->nr_tx_rings = (uint16_t)p->ntx;
	req->nr_rx_rings = (uint16_t)p->nrx;
	req->nr_host_tx_rings = (uint16_t)p->nhost;
	req->nr_host_rx_rings = (uint16_t)p->nhost;
	req->nr_mem_id = p->mem_id;
	req->nr_extra_bufs = got;
	unm_map_put(m);
	ret = unm_fd_attach(f);
	unm_nic_req_mode = 0;
	if (ret < 0)
		reg_unbind_locked(f->reg);
	unm_unlock();
	return ret;

out_map:
	unm_map_put(m);
out_port:
	port_put_if_unused(pidx);
out:
	unm_unlock();
	return ret;
}

/* Undo a registration: extra buffers (whatever list ni_bufs_head holds
 * now), ring bindings, the netmap_if, the port reference. */
static void reg_unbind_locked(uint32_t idx)
{
	struct unm_registry *r = unm_registry();
	struct unm_reg *g = &r->regs[idx];
	if (g->state != UNM_REG_BOUND)
		return;
	struct unm_port *p = &r->ports[g->port];
	struct unm_map *m = unm_map_get(g->mem_id, g->mem_gen);
	if (m != NULL) {
		struct netmap_if *nifp = (struct netmap_if *)(m->base + g->if_off);
		unm_extra_bufs_free(m, nifp->ni_bufs_head);
		nifp->ni_bufs_head = 0;
		bind_rings(m, p, g, idx, -1);
		unm_if_free(m, g->if_obj);
		unm_map_put(m);
	}
	g->state = UNM_REG_OPEN;
	if (p->refs)
		p->refs--;
	uint16_t mem = g->mem_id;
	if (p->refs == 0)
		unm_port_destroy_locked(g->port);
	unm_mem_unref_locked(mem);
}

/* Release a registration completely (its holders are gone). */
void unm_reg_release_locked(uint32_t idx)
{
	struct unm_registry *r = unm_registry();
	struct unm_reg *g = &r->regs[idx];
	char path[512];
	reg_unbind_locked(idx);
	unm_fifo_path(path, sizeof(path), idx, g->gen);
	unlink(path);
	memset(g, 0, sizeof(*g));
}

/* ---- local view of a binding ------------------------------------------- */

int unm_fd_attach(struct unm_fd *f)
{
	struct unm_registry *r = unm_registry();
	struct unm_reg *g = &r->regs[f->reg];
	struct unm_port *p = &r->ports[g->port];
	struct unm_map *m = unm_map_get(g->mem_id, g->mem_gen);
	if (m == NULL)
		return -ENOMEM;
	f->map = m;
	f->ops = unm_port_ops(p->kind);
	f->nifp = (struct netmap_if *)(m->base + g->if_off);
	f->memsize = m->meta->memsize;
	f->ntx = g->tx_last - g->tx_first;
	f->nrx = g->rx_last - g->rx_first;
	f->no_tx_poll = g->flags & NR_NO_TX_POLL;
	f->tx = calloc(f->ntx + f->nrx + 1, sizeof(struct unm_kref));
	if (f->tx == NULL) {
		unm_map_put(m);
		f->map = NULL;
		return -ENOMEM;
	}
	f->rx = f->tx + f->ntx;
	for (uint32_t d = 0; d < 2; d++) {
		uint32_t first = d ? g->rx_first : g->tx_first;
		uint32_t cnt = d ? f->nrx : f->ntx;
		uint32_t obj0 = d ? p->rx_obj : p->tx_obj;
		struct unm_kref *kv = d ? f->rx : f->tx;
		for (uint32_t i = 0; i < cnt; i++) {
			struct unm_kref *k = &kv[i];
			uint32_t obj = obj0 + first + i;
			k->ring = unm_ring_ptr(m, obj);
			k->kr = unm_kring_ptr(m, obj);
			k->shadow = m->shadow + (uint64_t)obj * unm_ring_max_slots(&m->meta->p);
			if (k->kr->peer_obj != UNM_NONE) {
				k->pring = unm_ring_ptr(m, k->kr->peer_obj);
				k->pkr = unm_kring_ptr(m, k->kr->peer_obj);
			}
			k->waiter = -1;
			for (int w = 0; w < UNM_KR_WAITERS; w++) {
				if (k->kr->waiter[w].reg == f->reg && k->kr->waiter[w].gen == g->gen) {
					k->waiter = w;
					break;
				}
			}
		}
	}
	f->bound = true;
	if (f->ops->fd_attach != NULL) {
		int ret = f->ops->fd_attach(f);
		if (ret < 0) {
			unm_fd_detach(f);
			return ret;
		}
	}
	return 0;
}

void unm_fd_detach(struct unm_fd *f)
{
	if (!f->bound)
		return;
	f->bound = false;
	if (f->ops != NULL && f->ops->fd_detach != NULL)
		f->ops->fd_detach(f);
	if (f->ops != NULL && f->ops->kref_fini != NULL)
		for (uint32_t i = 0; i < f->ntx + f->nrx; i++)
			f->ops->kref_fini(&f->tx[i]);
	free(f->tx);
	f->tx = f->rx = NULL;
	f->ntx = f->nrx = 0;
	unm_map_put(f->map);
	f->map = NULL;
}

/* ---- other requests --------------------------------------------------- */

static int do_port_info(struct unm_fd *f, struct nmreq_header *hdr,
			struct nmreq_port_info_get *b)
{
	struct unm_registry *r = unm_registry();
	int ret;
	(void)f;
	if ((ret = unm_lock()) < 0)
		return ret;
	if (hdr->nr_name[0] == '\0') {
		uint16_t id = b->nr_mem_id ? b->nr_mem_id : 1;
		if ((ret = unm_mem_get_locked(id)) == 0) {
			b->nr_memsize = r->mems[id].memsize;
			b->nr_mem_id = id;
		}
		unm_unlock();
		return ret;
	}
	struct nmreq_register req = {
		.nr_tx_slots = b->nr_tx_slots, .nr_rx_slots = b->nr_rx_slots,
		.nr_tx_rings = b->nr_tx_rings, .nr_rx_rings = b->nr_rx_rings,
		.nr_mem_id = b->nr_mem_id, .nr_mode = NR_REG_ALL_NIC,
	};
	uint32_t pidx;
	if ((ret = port_lookup_locked(hdr->nr_name, &req, true, &pidx)) == 0) {
		struct unm_port *p = &r->ports[pidx];
		b->nr_memsize = r->mems[p->mem_id].memsize;
		b->nr_tx_slots = p->tx_slots;
		b->nr_rx_slots = p->rx_slots;
		b->nr_tx_rings = (uint16_t)p->ntx;
		b->nr_rx_rings = (uint16_t)p->nrx;
		b->nr_host_tx_rings = b->nr_host_rx_rings = (uint16_t)p->nhost;
		b->nr_mem_id = p->mem_id;
		port_put_if_unused(pidx);
	}
	unm_unlock();
	return ret;
}

static int do_pools_info(struct unm_fd *f, struct nmreq_header *hdr, struct nmreq_pools_info *b)
{
	struct unm_registry *r = unm_registry();
	int ret;
	(void)f;
	if (hdr->nr_name[0] == '\0')
		return -EINVAL;
	if ((ret = unm_lock()) < 0)
		return ret;
	struct nmreq_register req = { .nr_mode = NR_REG_ALL_NIC, .nr_mem_id = b->nr_mem_id };
	uint32_t pidx;
	if ((ret = port_lookup_locked(hdr->nr_name, &req, true, &pidx)) == 0) {
		struct unm_port *p = &r->ports[pidx];
		struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
		if (m == NULL) {
			ret = -ENOMEM;
		} else {
			const struct unm_region_meta *mt = m->meta;
			b->nr_memsize = mt->memsize;
			b->nr_mem_id = p->mem_id;
			b->nr_if_pool_offset = mt->if_off;
			b->nr_if_pool_objtotal = mt->p.if_num;
			b->nr_if_pool_objsize = mt->p.if_size;
			b->nr_ring_pool_offset = mt->ring_off;
			b->nr_ring_pool_objtotal = mt->p.ring_num;
			b->nr_ring_pool_objsize = mt->p.ring_size;
			b->nr_buf_pool_offset = mt->buf_off;
			b->nr_buf_pool_objtotal = mt->p.buf_num;
			b->nr_buf_pool_objsize = mt->p.buf_size;
			unm_map_put(m);
		}
		port_put_if_unused(pidx);
	}
	unm_unlock();
	return ret;
}

static int do_hdr_get(struct unm_fd *f, struct nmreq_header *hdr, struct nmreq_port_hdr *b)
{
	struct unm_registry *r = unm_registry();
	int ret;
	(void)f;
	if ((ret = unm_lock()) < 0)
		return ret;
	struct nmreq_register req = { .nr_mode = NR_REG_ALL_NIC };
	uint32_t pidx;
	const char *name = hdr->nr_name;
	if (strchr(name, '{') != NULL || strchr(name, '}') != NULL) {
		ret = unm_pipe_lookup_locked(name, &req, false, &pidx);
		if (ret == 0)
			b->nr_hdr_len = r->ports[pidx].hdr_len;
	} else if (unm_vale_name(name)) {
		ret = unm_vale_lookup_locked(name, NULL, false, false, &pidx);
		if (ret == 0)
			b->nr_hdr_len = r->ports[pidx].hdr_len;
		else
			ret = -ENXIO;
	} else if (unm_port_find_locked(name) != NULL &&
		   unm_port_find_locked(name)->kind == UNM_PORT_VALE_PERSIST) {
		b->nr_hdr_len = unm_port_find_locked(name)->hdr_len;
	} else if (name[0] == '\0' || if_nametoindex(name) == 0) {
		ret = -ENXIO;
	} else {
		b->nr_hdr_len = 0;	/* interfaces have no virtio-net header */
	}
	unm_unlock();
	return ret;
}

static int do_unsupported(struct unm_fd *f, struct nmreq_header *hdr, void *body)
{
	(void)f;
	(void)body;
	unm_seterr("request %u is not supported yet", hdr->nr_reqtype);
	return -EOPNOTSUPP;
}

/* ---- dispatch ------------------------------------------------------------- */

typedef int (*handler_fn)(struct unm_fd *, struct nmreq_header *, void *);

static const struct {
	size_t body;
	handler_fn fn;
} reqs[] = {
	[NETMAP_REQ_REGISTER] = { sizeof(struct nmreq_register), (handler_fn)do_register },
	[NETMAP_REQ_PORT_INFO_GET] = { sizeof(struct nmreq_port_info_get), (handler_fn)do_port_info },
	[NETMAP_REQ_VALE_ATTACH] = { sizeof(struct nmreq_vale_attach), unm_vale_ctl },
	[NETMAP_REQ_VALE_DETACH] = { sizeof(struct nmreq_vale_detach), unm_vale_ctl },
	[NETMAP_REQ_VALE_LIST] = { sizeof(struct nmreq_vale_list), unm_vale_ctl },
	[NETMAP_REQ_PORT_HDR_SET] = { sizeof(struct nmreq_port_hdr), unm_vale_ctl },
	[NETMAP_REQ_PORT_HDR_GET] = { sizeof(struct nmreq_port_hdr), (handler_fn)do_hdr_get },
	[NETMAP_REQ_VALE_NEWIF] = { sizeof(struct nmreq_vale_newif), unm_vale_ctl },
	[NETMAP_REQ_VALE_DELIF] = { 0, unm_vale_ctl },
	[NETMAP_REQ_VALE_POLLING_ENABLE] = { sizeof(struct nmreq_vale_polling), unm_vale_ctl },
	[NETMAP_REQ_VALE_POLLING_DISABLE] = { sizeof(struct nmreq_vale_polling), unm_vale_ctl },
	[NETMAP_REQ_POOLS_INFO_GET] = { sizeof(struct nmreq_pools_info), (handler_fn)do_pools_info },
	[NETMAP_REQ_SYNC_KLOOP_START] = { sizeof(struct nmreq_sync_kloop_start), do_unsupported },
	[NETMAP_REQ_SYNC_KLOOP_STOP] = { 0, do_unsupported },
	[NETMAP_REQ_CSB_ENABLE] = { 0, do_unsupported },
};
#define NREQS (sizeof(reqs) / sizeof(reqs[0]))

int unm_ctl(struct unm_fd *f, struct nmreq_header *hdr)
{
	unsigned char body[256];
	struct opts os;
	int ret;

	unm_clearerr();
	if (!unm_user_ok(hdr, sizeof(*hdr)))
		return -EFAULT;
	if (hdr->nr_version < NETMAP_MIN_API || hdr->nr_version > NETMAP_MAX_API) {
		unm_seterr("API version %u not in [%d, %d]", hdr->nr_version,
			   NETMAP_MIN_API, NETMAP_MAX_API);
		return -EINVAL;
	}
	if (hdr->nr_reserved != 0)
		return -EINVAL;
	hdr->nr_name[NETMAP_REQ_IFNAMSIZ - 1] = '\0';
	uint16_t t = hdr->nr_reqtype;
	size_t bsz = t < NREQS ? reqs[t].body : 0;
	if ((bsz != 0) != (hdr->nr_body != 0)) {
		unm_seterr("request %u: body %s", t, bsz ? "missing" : "not expected");
		return -EINVAL;
	}
	if (t >= NREQS || reqs[t].fn == NULL) {
		unm_seterr("unknown request type %u", t);
		return -EINVAL;
	}
	if (bsz && !unm_user_ok((void *)(uintptr_t)hdr->nr_body, bsz))
		return -EFAULT;
	ret = opts_walk(hdr, bsz, &os);
	if (ret == 0) {
		/* work on a copy: the body is written back only on success */
		if (bsz)
			memcpy(body, (void *)(uintptr_t)hdr->nr_body, bsz);
		ctl_opts = &os;
		ret = reqs[t].fn(f, hdr, bsz ? body : NULL);
		ctl_opts = NULL;
		if (ret == 0 && t == NETMAP_REQ_REGISTER && opts_unconsumed(&os)) {
			unm_unregister(f);
			unm_seterr("option not supported for this port");
			ret = -EOPNOTSUPP;
		}
		if (ret == 0 && bsz)
			memcpy((void *)(uintptr_t)hdr->nr_body, body, bsz);
	}
	opts_writeback(&os);
	return ret;
}

/* Unbind the registration of `f` (the fd stays open and may register
 * again). */
int unm_unregister(struct unm_fd *f)
{
	if (!f->bound)
		return 0;
	unm_fd_detach(f);
	int ret = unm_lock();
	if (ret < 0)
		return ret;
	reg_unbind_locked(f->reg);
	unm_unlock();
	return 0;
}

/* ---- extensions ------------------------------------------------------------- */

int unetmap_mem_stats(uint16_t id, struct unetmap_mem_stats *st)
{
	struct unm_registry *r = unm_registry();
	int ret;
	if (r == NULL)
		return -errno;
	if ((ret = unm_lock()) < 0)
		return ret;
	struct unm_mem_ent *e = &r->mems[id];
	if (!e->live) {
		unm_unlock();
		return -EINVAL;
	}
	struct unm_map *m = unm_map_get(id, e->gen);
	if (m == NULL) {
		unm_unlock();
		return -ENOMEM;
	}
	memset(st, 0, sizeof(*st));
	st->mem_id = id;
	st->memsize = m->meta->memsize;
	st->if_total = m->meta->p.if_num;
	st->if_free = m->meta->if_free;
	st->if_size = m->meta->p.if_size;
	st->ring_total = m->meta->p.ring_num;
	st->ring_free = m->meta->ring_free;
	st->ring_size = m->meta->p.ring_size;
	st->buf_total = m->meta->p.buf_num;
	st->buf_free = m->meta->buf_free;
	st->buf_size = m->meta->p.buf_size;
	st->users = e->users;
	unm_map_put(m);
	unm_unlock();
	return 0;
}

/* ---- crash repair ---------------------------------------------------------- */

static bool has_rings(uint32_t kind)
{
	return kind == UNM_PORT_PIPE || kind == UNM_PORT_NULL || kind == UNM_PORT_VALE ||
	       kind == UNM_PORT_VALE_PERSIST || kind == UNM_PORT_MONITOR || kind == UNM_PORT_NIC;
}

/* After a process died holding the registry lock, rebuild every derived
 * counter from the committed registrations (state BOUND): port references,
 * ring users/exclusive flags/waiter slots, netmap_if allocations and region
 * users; then drop ports nobody uses.  Buffers a dying registration was
 * moving cannot be traced and are not recovered here (they return when the
 * region is destroyed). */
/* A port whose creation did not complete: free the buffers of its rings
 * that were fully set up (a ring still being filled is the region's
 * transaction, recovered separately); its ring objects are reclaimed when
 * the ring bitmaps are rebuilt. */
static void drop_unfinished_port(struct unm_port *p)
{
	if (!has_rings(p->kind))
		return;
	struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
	if (m == NULL)
		return;
	for (int d = 0; d < 2; d++) {
		uint32_t cnt = d ? p->nrx : p->ntx, o = d ? p->rx_obj : p->tx_obj;
		if (o == UNM_NONE)
			continue;
		for (uint32_t k = o; k < o + cnt && k < m->meta->p.ring_num; k++) {
			if (m->meta->txn_obj == k)
				continue;
			struct netmap_ring *ring = unm_ring_ptr(m, k);
			for (uint32_t j = 0; j < unm_kring_ptr(m, k)->num_slots; j++)
				unm_buf_free(m, ring->slot[j].buf_idx);
		}
	}
	unm_map_put(m);
}

void unm_repair_locked(void)
{
	struct unm_registry *r = unm_registry();
	static uint32_t users[UNM_MAX_MEMS];

	memset(users, 0, sizeof(users));
	/* a port whose creation did not complete owns nothing we can trust
	 * (its ring fields may be unset): drop it; the rings it had taken
	 * come back below when the ring bitmaps are rebuilt */
	for (uint32_t i = 0; i < r->port_hwm; i++) {
		struct unm_port *p = &r->ports[i];
		if (p->kind != UNM_PORT_FREE && !p->ready) {
			drop_unfinished_port(p);
			memset(p, 0, sizeof(*p));
		}
		p->refs = 0;
		p->children = 0;
	}
	for (uint32_t id = 1; id < UNM_MAX_MEMS; id++) {
		if (!r->mems[id].live)
			continue;
		struct unm_map *m = unm_map_get((uint16_t)id, r->mems[id].gen);
		if (m != NULL) {
			unm_ring_txn_recover(m);
			unm_map_put(m);
		}
	}
	for (uint32_t i = 0; i < r->reg_hwm; i++) {
		struct unm_reg *g = &r->regs[i];
		if (g->state == UNM_REG_BOUND && r->ports[g->port].kind == UNM_PORT_FREE)
			g->state = UNM_REG_OPEN;	/* bound to a dropped port */
	}
	for (uint32_t i = 0; i < r->port_hwm; i++) {
		struct unm_port *p = &r->ports[i];
		if (p->kind == UNM_PORT_PIPE_PARENT || p->kind == UNM_PORT_NULL ||
		    p->kind == UNM_PORT_VALE || p->kind == UNM_PORT_VALE_PERSIST ||
		    p->kind == UNM_PORT_MONITOR || p->kind == UNM_PORT_NIC)
			users[p->mem_id]++;
		if (p->kind == UNM_PORT_PIPE && p->parent < UNM_MAX_PORTS &&
		    strchr(p->name, '{') != NULL && p->is_master)
			r->ports[p->parent].children++;
	}
	for (uint32_t i = 0; i < r->reg_hwm; i++) {
		struct unm_reg *g = &r->regs[i];
		if (g->state != UNM_REG_BOUND)
			continue;
		r->ports[g->port].refs++;
		users[g->mem_id]++;
	}
	/* rings: recount users and exclusive holders, keep the waiter slots of
	 * live bindings where they are (processes cache their index) */
	for (uint32_t i = 0; i < r->port_hwm; i++) {
		struct unm_port *p = &r->ports[i];
		if (!has_rings(p->kind))
			continue;
		struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
		if (m == NULL)
			continue;
		for (int d = 0; d < 2; d++) {
			uint32_t cnt = d ? p->nrx : p->ntx, obj = d ? p->rx_obj : p->tx_obj;
			for (uint32_t k = 0; k < cnt; k++) {
				struct unm_kring *kr = unm_kring_ptr(m, obj + k);
				kr->users = kr->excl = 0;
				for (int w = 0; w < UNM_KR_WAITERS; w++) {
					uint32_t reg = kr->waiter[w].reg;
					if (kr->waiter[w].gen == 0)
						continue;
					struct unm_reg *g = reg < UNM_MAX_REGS ? &r->regs[reg] : NULL;
					uint32_t first = g ? (d ? g->rx_first : g->tx_first) : 0;
					uint32_t last = g ? (d ? g->rx_last : g->tx_last) : 0;
					if (g == NULL || g->state != UNM_REG_BOUND ||
					    g->gen != kr->waiter[w].gen || g->port != i ||
					    k < first || k >= last)
						unm_waiter_del_locked(kr, reg, kr->waiter[w].gen);
				}
			}
		}
		for (uint32_t j = 0; j < r->reg_hwm; j++) {
			struct unm_reg *g = &r->regs[j];
			if (g->state != UNM_REG_BOUND || g->port != i)
				continue;
			for (int d = 0; d < 2; d++) {
				uint32_t first = d ? g->rx_first : g->tx_first;
				uint32_t last = d ? g->rx_last : g->tx_last;
				uint32_t obj = d ? p->rx_obj : p->tx_obj;
				for (uint32_t k = first; k < last; k++) {
					struct unm_kring *kr = unm_kring_ptr(m, obj + k);
					kr->users++;
					if (g->flags & NR_EXCLUSIVE)
						kr->excl = 1;
					bool have = false;
					for (int w = 0; w < UNM_KR_WAITERS; w++)
						have |= kr->waiter[w].reg == j &&
							kr->waiter[w].gen == g->gen;
					if (!have)
						unm_waiter_add_locked(kr, j, g->gen);
				}
			}
		}
		unm_map_put(m);
	}
	/* netmap_if objects: exactly those of committed registrations;
	 * ring objects: exactly those of committed ports */
	for (uint32_t id = 1; id < UNM_MAX_MEMS; id++) {
		struct unm_mem_ent *e = &r->mems[id];
		if (!e->live)
			continue;
		struct unm_map *m = unm_map_get((uint16_t)id, e->gen);
		if (m != NULL) {
			uint64_t *rb = (uint64_t *)((char *)m->meta + m->meta->ring_bm_off);
			memset(rb, 0, (m->meta->p.ring_num + 63) / 64 * 8);
			m->meta->ring_free = m->meta->p.ring_num;
			for (uint32_t i = 0; i < r->port_hwm; i++) {
				struct unm_port *p = &r->ports[i];
				if (!has_rings(p->kind) || p->mem_id != id || p->mem_gen != e->gen)
					continue;
				for (int d = 0; d < 2; d++) {
					uint32_t cnt = d ? p->nrx : p->ntx, o = d ? p->rx_obj : p->tx_obj;
					for (uint32_t k = o; k < o + cnt && k < m->meta->p.ring_num; k++) {
						if (!(rb[k / 64] >> (k % 64) & 1)) {
							rb[k / 64] |= 1ULL << (k % 64);
							m->meta->ring_free--;
						}
					}
				}
			}
			uint64_t *bm = (uint64_t *)((char *)m->meta + m->meta->if_bm_off);
			memset(bm, 0, (m->meta->p.if_num + 63) / 64 * 8);
			m->meta->if_free = m->meta->p.if_num;
			for (uint32_t j = 0; j < r->reg_hwm; j++) {
				struct unm_reg *g = &r->regs[j];
				if (g->state == UNM_REG_BOUND && g->mem_id == id &&
				    g->mem_gen == e->gen && g->if_obj < m->meta->p.if_num &&
				    !(bm[g->if_obj / 64] >> (g->if_obj % 64) & 1)) {
					bm[g->if_obj / 64] |= 1ULL << (g->if_obj % 64);
					m->meta->if_free--;
				}
			}
			unm_map_put(m);
		}
		e->users = id == 1 ? users[id] + 1 : users[id];
	}
	unm_vale_repair_locked();
	for (uint32_t i = 0; i < r->port_hwm; i++)
		port_put_if_unused(i);
	for (uint32_t id = 2; id < UNM_MAX_MEMS; id++) {
		struct unm_mem_ent *e = &r->mems[id];
		if (e->live && e->users == 0) {
			e->users = 1;
			unm_mem_unref_locked((uint16_t)id);
		}
	}
}
