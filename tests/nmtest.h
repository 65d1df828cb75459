/* Frame helpers shared by the tests that move frames through netmap
 * ports (include after testlib.h). */
#ifndef UNETMAP_NMTEST_H
#define UNETMAP_NMTEST_H
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <libnetmap.h>

/* number carried by the next frame t_queue_frame() builds */
static unsigned t_frame_no;

/* queue one 60-byte frame (its number at offset 14) on the first TX
 * ring, without syncing */
static inline void t_queue_frame(struct nmport_d *d)
{
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	REQUIRE(!nm_ring_empty(r), "no room in the tx ring");
	struct netmap_slot *s = &r->slot[r->head];
	char *buf = NETMAP_BUF(r, s->buf_idx);
	memset(buf, 0, 60);
	memcpy(buf + 14, &t_frame_no, sizeof(t_frame_no));
	t_frame_no++;
	s->len = 60;
	r->head = r->cur = nm_ring_next(r, r->head);
}

static inline void t_send_frame(struct nmport_d *d)
{
	t_queue_frame(d);
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0, "txsync: %s", strerror(errno));
}

/* release what the receiver sees; returns how many frames that was */
static inline int t_consume(struct nmport_d *d)
{
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);
	int n = 0;
	while (!nm_ring_empty(r) && n < 4096) {
		r->head = r->cur = nm_ring_next(r, r->head);
		n++;
	}
	return n;
}

/* read whatever is pending on a socket */
static inline void t_empty_socket(int fd)
{
	char buf[64];
	for (int i = 0; i < 100; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}
#endif
