/*
 * null.c - null ports (NR_REG_NULL): rings and buffers allocated in an
 * existing memory region, with syncs that do nothing.  Ring and slot counts
 * are taken verbatim from the request.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/unm.h"

static int null_sync(struct unm_fd *f, struct unm_kref *k)
{
	(void)f;
	(void)k;
	return 0;
}

static void null_destroy(uint32_t idx);

static bool null_ready(const struct unm_kref *k)
{
	(void)k;
	return false;
}

const struct unm_port_ops unm_null_ops = {
	.name = "null",
	.txsync = null_sync,
	.rxsync = null_sync,
	.ready = null_ready,
	.destroy = null_destroy,
};

int unm_null_create_locked(const char *name, struct nmreq_register *req, uint32_t *port_out)
{
	struct unm_registry *r = unm_registry();
	uint16_t mem = req->nr_mem_id;
	uint32_t idx;
	int ret;

	if (mem == 0) {
		unm_seterr("a null port needs nr_mem_id");
		return -EINVAL;
	}
	if ((ret = unm_mem_get_locked(mem)) < 0)
		return ret;
	if (req->nr_tx_rings > UNM_MAX_RINGS || req->nr_rx_rings > UNM_MAX_RINGS ||
	    req->nr_tx_slots > UNM_MAX_SLOTS || req->nr_rx_slots > UNM_MAX_SLOTS) {
		unm_seterr("null port: at most %d rings of %d slots", UNM_MAX_RINGS, UNM_MAX_SLOTS);
		return -EINVAL;
	}
	struct unm_map *m = unm_map_get(mem, r->mems[mem].gen);
	if (m == NULL)
		return -ENOMEM;
	if ((ret = unm_port_alloc_locked(&idx)) < 0)
		goto out;
	struct unm_port *p = &r->ports[idx];
	p->kind = UNM_PORT_NULL;
	snprintf(p->name, sizeof(p->name), "null:%s", name);
	p->mem_id = mem;
	p->mem_gen = r->mems[mem].gen;
	p->ntx = req->nr_tx_rings;
	p->nrx = req->nr_rx_rings;
	p->tx_slots = req->nr_tx_slots;
	p->rx_slots = req->nr_rx_slots;
	uint64_t need = (uint64_t)p->ntx * p->tx_slots + (uint64_t)p->nrx * p->rx_slots;
	if (need > m->meta->buf_free) {
		unm_seterr("buffer pool of memory region %u exhausted: the null port needs "
			   "%llu buffers, %u free", mem, (unsigned long long)need,
			   m->meta->buf_free);
		ret = -ENOMEM;
		goto out_port;
	}
	if ((ret = unm_ring_alloc(m, p->ntx, p->tx_slots, &p->tx_obj)) < 0)
		goto out_port;
	if ((ret = unm_ring_alloc(m, p->nrx, p->rx_slots, &p->rx_obj)) < 0) {
		unm_ring_free(m, p->tx_obj, p->ntx);
		goto out_port;
	}
	for (uint32_t i = 0; i < p->ntx; i++)
		unm_ring_init(m, p->tx_obj + i, idx, NR_TX, i, p->tx_slots, true);
	for (uint32_t i = 0; i < p->nrx; i++)
		unm_ring_init(m, p->rx_obj + i, idx, NR_RX, i, p->rx_slots, true);
	unm_mem_ref_locked(mem);
	p->ready = 1;	/* commit */
	unm_map_put(m);
	*port_out = idx;
	return 0;
out_port:
	memset(&r->ports[idx], 0, sizeof(r->ports[idx]));
out:
	unm_map_put(m);
	return ret;
}

/* the last registration is gone: rings and buffers go back to the region */
static void null_destroy(uint32_t idx)
{
	struct unm_registry *r = unm_registry();
	struct unm_port *p = &r->ports[idx];
	struct unm_map *m = unm_map_get(p->mem_id, p->mem_gen);
	if (m != NULL) {
		for (uint32_t i = 0; i < p->ntx; i++)
			unm_ring_fini(m, p->tx_obj + i, true);
		for (uint32_t i = 0; i < p->nrx; i++)
			unm_ring_fini(m, p->rx_obj + i, true);
		unm_map_put(m);
	}
	uint16_t mem = p->mem_id;
	memset(p, 0, sizeof(*p));
	unm_mem_unref_locked(mem);
}

/* called when the last registration of a port goes away */
void unm_port_destroy_locked(uint32_t idx)
{
	struct unm_port *p = &unm_registry()->ports[idx];
	const struct unm_port_ops *ops = unm_port_ops(p->kind);
	if (p->refs == 0 && ops != NULL && ops->destroy != NULL) {
		ops->destroy(idx);
		unm_mon_orphans_locked();
	}
}

const struct unm_port_ops *unm_port_ops(uint32_t kind)
{
	static const struct unm_port_ops *const table[UNM_PORT_KIND_MAX] = {
		[UNM_PORT_PIPE] = &unm_pipe_ops,
		[UNM_PORT_NULL] = &unm_null_ops,
		[UNM_PORT_VALE] = &unm_vale_ops,
		[UNM_PORT_VALE_PERSIST] = &unm_vale_ops,
		[UNM_PORT_MONITOR] = &unm_mon_ops,
		[UNM_PORT_NIC] = &unm_nic_ops,
	};
	return kind < UNM_PORT_KIND_MAX ? table[kind] : NULL;
}
