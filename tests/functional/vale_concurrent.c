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
#include "valetest.h"

#define NSEND 4
#define NFRAMES 30000

struct result {
	uint32_t id;
	uint32_t sent;
	uint64_t tx_frames, drop_full, drop_closed, drop_malformed, drop_dead;
	int ok;
};

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
	unsigned lcg = id * 7919u + 17u;
	uint32_t seq = 0;
	int64_t deadline = unm_test_now_ms() + 60000;
	while (seq < NFRAMES && unm_test_now_ms() < deadline) {
		lcg = lcg * 1103515245u + 12345u;
		vt_seq_burst(r, id, &seq, NFRAMES, 1 + (lcg >> 16) % 64, true);
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
	struct unetmap_vale_port_stats st;
	res.ok = vt_port_stats(name, &st) == 0;
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

static struct vt_seqrx rxs;

int main(void)
{
	t_setup(150);
	/* the switch learns the receiver's MAC: senders' frames are unicast to it */
	struct nmport_d *rx = vt_seq_receiver("vale0:r@conf:slots=2048", "vale0:h");
	struct unetmap_vale_mac macs[8];
	int nm = unetmap_vale_macs("vale0", macs, 8);
	CHECK(nm == 1 && memcmp(macs[0].mac, vt_mac_r, 6) == 0, "receiver MAC not learned (%d)", nm);
	vt_seqrx_init(&rxs, NSEND, NFRAMES, true);

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
		total += vt_seqrx_drain(&rxs, NETMAP_RXRING(rx->nifp, 0));
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
	total += vt_seqrx_drain(&rxs, NETMAP_RXRING(rx->nifp, 0));
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
			(unsigned long long)rxs.received[i], (unsigned long long)rs[i].drop_full,
			(unsigned long long)rs[i].drop_closed,
			(unsigned long long)rs[i].drop_malformed,
			(unsigned long long)rs[i].tx_frames);
		CHECK(rs[i].sent == NFRAMES, "sender %d sent only %u", i, rs[i].sent);
		CHECK(rxs.received[i] + d == rs[i].sent,
		      "sender %d: received %llu + drops %llu != sent %u", i,
		      (unsigned long long)rxs.received[i], (unsigned long long)d, rs[i].sent);
		CHECK(rs[i].drop_closed == 0 && rs[i].drop_malformed == 0,
		      "sender %d: closed/malformed drops", i);
		CHECK(rs[i].tx_frames == rs[i].sent, "sender %d tx_frames %llu, sent %u", i,
		      (unsigned long long)rs[i].tx_frames, rs[i].sent);
		sent += rs[i].sent;
		drops += d;
	}
	struct unetmap_vale_port_stats st;
	int found = vt_port_stats("vale0:r", &st) == 0;
	CHECK(found && st.rx_frames == total, "receiver rx_frames %llu, read %llu",
	      (unsigned long long)st.rx_frames, (unsigned long long)total);
	CHECK(st.drop_dead == 0, "receiver drop_dead %llu", (unsigned long long)st.drop_dead);
	CHECK(total + drops == sent, "received %llu + dropped %llu != sent %llu",
	      (unsigned long long)total, (unsigned long long)drops, (unsigned long long)sent);
	CHECK(total > 0, "nothing received");
	fprintf(stderr, "total: sent %llu received %llu dropped %llu, %u bad frames\n",
		(unsigned long long)sent, (unsigned long long)total, (unsigned long long)drops,
		rxs.bad);
	nmport_close(rx);
	return t_done();
}
