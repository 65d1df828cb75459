/* Description: 4 sender processes push frames into one VALE receiver at the
 * same time: no frame is corrupted, duplicated or reordered within a
 * sender, and every frame is either received or counted as a drop by its
 * sender (received + drops == sent, per sender). */
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"

#define NSEND 4
#define NFRAMES 30000
#define MAXLEN 1514

static const uint8_t MAC_R[6] = { 0x02, 0, 0, 0, 0x99, 0x01 };

static void mac_s(unsigned id, uint8_t *m)
{
	static const uint8_t base[6] = { 0x02, 0, 0, 0, 0x88, 0 };
	memcpy(m, base, 6);
	m[5] = (uint8_t)id;
}

static uint8_t pat(uint32_t id, uint32_t seq, unsigned k)
{
	return (uint8_t)((seq * 2654435761u + id * 40503u + k * 97u) >> 11);
}

static unsigned frame_len(uint32_t id, uint32_t seq)
{
	return 60 + (seq * 37u + id * 101u) % (MAXLEN - 60 + 1);
}

struct result {
	uint32_t id;
	uint32_t sent;
	uint64_t tx_frames, drop_full, drop_closed, drop_malformed, drop_dead;
	int ok;
};

static struct unetmap_vale_port_stats pstats(const char *name, int *found)
{
	static struct unetmap_vale_port_stats st[UNETMAP_VALE_MAXPORTS];
	struct unetmap_vale_port_stats z;
	memset(&z, 0, sizeof(z));
	*found = 0;
	int n = unetmap_vale_stats(name, st, UNETMAP_VALE_MAXPORTS);
	for (int i = 0; i < n && i < UNETMAP_VALE_MAXPORTS; i++)
		if (strcmp(st[i].name, name) == 0) {
			*found = 1;
			return st[i];
		}
	return z;
}

static void sender(uint32_t id, int go_fd, int res_fd)
{
	struct result res;
	memset(&res, 0, sizeof(res));
	res.id = id;
	char name[32];
	snprintf(name, sizeof(name), "vale0:s%u", id);
	struct nmport_d *d = nmport_open(name);
	if (d == NULL) {
		fprintf(stderr, "sender %u: open %s: %s\n", id, name, strerror(errno));
		_exit(2);
	}
	char c;
	if (read(go_fd, &c, 1) != 1)
		_exit(3);
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, 0);
	uint8_t src[6];
	mac_s(id, src);
	unsigned lcg = id * 7919u + 17u;
	uint32_t seq = 0;
	int64_t deadline = unm_test_now_ms() + 60000;
	while (seq < NFRAMES && unm_test_now_ms() < deadline) {
		lcg = lcg * 1103515245u + 12345u;
		unsigned batch = 1 + (lcg >> 16) % 64;
		while (batch-- > 0 && seq < NFRAMES && !nm_ring_empty(r)) {
			struct netmap_slot *s = &r->slot[r->head];
			uint8_t *b = (uint8_t *)NETMAP_BUF(r, s->buf_idx);
			unsigned len = frame_len(id, seq);
			memcpy(b, MAC_R, 6);
			memcpy(b + 6, src, 6);
			b[12] = 0x88;
			b[13] = 0xb5;
			memcpy(b + 14, &id, 4);
			memcpy(b + 18, &seq, 4);
			uint16_t l16 = (uint16_t)len;
			memcpy(b + 22, &l16, 2);
			for (unsigned k = 24; k < len; k++)
				b[k] = pat(id, seq, k);
			s->len = (uint16_t)len;
			s->flags = 0;
			r->head = r->cur = nm_ring_next(r, r->head);
			seq++;
		}
		if ((lcg >> 8) & 1) {
			if (ioctl(d->fd, NIOCTXSYNC, NULL) < 0)
				_exit(4);
		} else {
			struct pollfd p = { .fd = d->fd, .events = POLLOUT };
			if (poll(&p, 1, 1000) != 1)
				_exit(5);
		}
		if ((lcg >> 20) % 16 == 0)
			sched_yield();
	}
	ioctl(d->fd, NIOCTXSYNC, NULL);
	res.sent = seq;
	int found;
	struct unetmap_vale_port_stats st = pstats(name, &found);
	res.ok = found;
	res.tx_frames = st.tx_frames;
	res.drop_full = st.drop_full;
	res.drop_closed = st.drop_closed;
	res.drop_malformed = st.drop_malformed;
	res.drop_dead = st.drop_dead;
	if (write(res_fd, &res, sizeof(res)) != sizeof(res))
		_exit(6);
	nmport_close(d);
	_exit(0);
}

static uint64_t received[NSEND];
static int64_t last_seq[NSEND];
static unsigned bad_frames;

static void check_frame(const struct netmap_slot *s, const uint8_t *b)
{
	uint32_t id, seq;
	uint16_t l16;
	if (s->len < 24) {
		if (bad_frames++ < 10)
			CHECK(0, "frame of %u bytes", s->len);
		return;
	}
	memcpy(&id, b + 14, 4);
	memcpy(&seq, b + 18, 4);
	memcpy(&l16, b + 22, 2);
	if (id >= NSEND || seq >= NFRAMES) {
		if (bad_frames++ < 10)
			CHECK(0, "frame with sender %u seq %u", id, seq);
		return;
	}
	uint8_t src[6];
	mac_s(id, src);
	unsigned bad = 0;
	if (memcmp(b, MAC_R, 6) != 0 || memcmp(b + 6, src, 6) != 0)
		bad++;
	if (s->len != frame_len(id, seq) || l16 != s->len)
		bad++;
	for (unsigned k = 24; k < s->len && bad == 0; k++)
		if (b[k] != pat(id, seq, k))
			bad++;
	if (bad && bad_frames++ < 10)
		CHECK(0, "sender %u seq %u: corrupted (len %u, want %u)", id, seq, s->len,
		      frame_len(id, seq));
	if ((int64_t)seq <= last_seq[id]) {
		if (bad_frames++ < 10)
			CHECK(0, "sender %u: seq %u after %lld (duplicate or reordered)", id, seq,
			      (long long)last_seq[id]);
	}
	last_seq[id] = seq;
	received[id]++;
}

static uint64_t drain(struct nmport_d *rx)
{
	struct netmap_ring *r = NETMAP_RXRING(rx->nifp, 0);
	uint64_t n = 0;
	while (!nm_ring_empty(r)) {
		struct netmap_slot *s = &r->slot[r->head];
		check_frame(s, (const uint8_t *)NETMAP_BUF(r, s->buf_idx));
		r->head = r->cur = nm_ring_next(r, r->head);
		n++;
	}
	return n;
}

int main(void)
{
	t_setup(150);
	struct nmport_d *rx = nmport_open("vale0:r@conf:slots=2048");
	REQUIRE(rx != NULL, "open receiver: %s", strerror(errno));
	/* announce the receiver's MAC so that senders' frames are unicast to it */
	struct nmport_d *h = nmport_open("vale0:h");
	REQUIRE(h != NULL, "open helper: %s", strerror(errno));
	struct netmap_ring *t = NETMAP_TXRING(rx->nifp, 0);
	uint8_t *b = (uint8_t *)NETMAP_BUF(t, t->slot[t->head].buf_idx);
	memset(b, 0xff, 6);
	memcpy(b + 6, MAC_R, 6);
	memset(b + 12, 0, 48);
	t->slot[t->head].len = 60;
	t->head = t->cur = nm_ring_next(t, t->head);
	CHECK(ioctl(rx->fd, NIOCTXSYNC, NULL) == 0, "announce");
	nmport_close(h);
	struct unetmap_vale_mac macs[8];
	int nm = unetmap_vale_macs("vale0", macs, 8);
	CHECK(nm == 1 && memcmp(macs[0].mac, MAC_R, 6) == 0, "receiver MAC not learned (%d)", nm);
	for (int i = 0; i < NSEND; i++)
		last_seq[i] = -1;

	int go[2], res[2];
	REQUIRE(pipe(go) == 0 && pipe(res) == 0, "pipe");
	pid_t pid[NSEND];
	for (uint32_t i = 0; i < NSEND; i++) {
		pid[i] = fork();
		REQUIRE(pid[i] >= 0, "fork");
		if (pid[i] == 0) {
			close(go[1]);
			close(res[0]);
			sender(i, go[0], res[1]);
		}
	}
	close(go[0]);
	close(res[1]);
	/* every sender has its port before any starts */
	int64_t t0 = unm_test_now_ms();
	for (int k = 0; k < 1000; k++) {
		struct unetmap_vale_port_stats st[8];
		if (unetmap_vale_stats("vale0", st, 8) == NSEND + 1)
			break;
		usleep(10000);
	}
	char gobuf[NSEND];
	memset(gobuf, 'g', sizeof(gobuf));
	REQUIRE(write(go[1], gobuf, NSEND) == NSEND, "go");

	struct pollfd p = { .fd = rx->fd, .events = POLLIN };
	int alive = NSEND, slow = 0;
	uint64_t total = 0;
	while (unm_test_now_ms() - t0 < 100000) {
		poll(&p, 1, 20);
		total += drain(rx);
		/* now and then a slow receiver, so that some frames are dropped */
		if (++slow % 64 == 0)
			usleep(2000);
		for (int i = 0; i < NSEND; i++) {
			int st;
			if (pid[i] > 0 && waitpid(pid[i], &st, WNOHANG) == pid[i]) {
				CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sender %d status %#x", i, st);
				pid[i] = 0;
				alive--;
			}
		}
		if (alive == 0)
			break;
	}
	CHECK(alive == 0, "%d sender(s) still running", alive);
	for (int i = 0; i < NSEND; i++)
		if (pid[i] > 0) {
			kill(pid[i], SIGKILL);
			waitpid(pid[i], NULL, 0);
		}
	ioctl(rx->fd, NIOCRXSYNC, NULL);
	total += drain(rx);
	ioctl(rx->fd, NIOCRXSYNC, NULL);

	struct result rs[NSEND];
	memset(rs, 0, sizeof(rs));
	uint64_t sent = 0, drops = 0;
	for (int k = 0; k < NSEND; k++) {
		struct result x;
		if (read(res[0], &x, sizeof(x)) != sizeof(x)) {
			CHECK(0, "missing result from a sender");
			break;
		}
		if (x.id < NSEND)
			rs[x.id] = x;
	}
	for (int i = 0; i < NSEND; i++) {
		CHECK(rs[i].ok, "sender %d found no stats for its port", i);
		uint64_t d = rs[i].drop_full + rs[i].drop_closed + rs[i].drop_malformed;
		fprintf(stderr, "sender %d: sent %u received %llu drop_full %llu closed %llu "
			"malformed %llu tx_frames %llu\n", i, rs[i].sent,
			(unsigned long long)received[i], (unsigned long long)rs[i].drop_full,
			(unsigned long long)rs[i].drop_closed,
			(unsigned long long)rs[i].drop_malformed,
			(unsigned long long)rs[i].tx_frames);
		CHECK(rs[i].sent == NFRAMES, "sender %d sent only %u", i, rs[i].sent);
		CHECK(received[i] + d == rs[i].sent, "sender %d: received %llu + drops %llu != sent %u",
		      i, (unsigned long long)received[i], (unsigned long long)d, rs[i].sent);
		CHECK(rs[i].drop_closed == 0 && rs[i].drop_malformed == 0,
		      "sender %d: closed/malformed drops", i);
		CHECK(rs[i].tx_frames == rs[i].sent, "sender %d tx_frames %llu, sent %u", i,
		      (unsigned long long)rs[i].tx_frames, rs[i].sent);
		sent += rs[i].sent;
		drops += d;
	}
	int found;
	struct unetmap_vale_port_stats st = pstats("vale0:r", &found);
	CHECK(found && st.rx_frames == total, "receiver rx_frames %llu, read %llu",
	      (unsigned long long)st.rx_frames, (unsigned long long)total);
	CHECK(st.drop_dead == 0, "receiver drop_dead %llu", (unsigned long long)st.drop_dead);
	CHECK(total + drops == sent, "received %llu + dropped %llu != sent %llu",
	      (unsigned long long)total, (unsigned long long)drops, (unsigned long long)sent);
	CHECK(total > 0, "nothing received");
	fprintf(stderr, "total: sent %llu received %llu dropped %llu, %u bad frames\n",
		(unsigned long long)sent, (unsigned long long)total, (unsigned long long)drops,
		bad_frames);
	nmport_close(rx);
	return t_done();
}
