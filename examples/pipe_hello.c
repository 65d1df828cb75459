/*
 * pipe_hello.c - a first unetmap program: one process sends 1000 frames on
 * netmap:hello{1, a child process receives them on netmap:hello}1.
 *
 *   cc pipe_hello.c $(pkg-config --cflags --libs libunetmap) -o pipe_hello
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libnetmap.h>

#define N 1000

static int receiver(void)
{
	struct nmport_d *d = nmport_open("netmap:hello}1");	/* slave end */
	if (d == NULL)
		return 1;
	struct netmap_ring *r = NETMAP_RXRING(d->nifp, d->first_rx_ring);
	struct pollfd pfd = { .fd = d->fd, .events = POLLIN };
	unsigned got = 0;
	while (got < N && poll(&pfd, 1, 2000) > 0) {	/* implicit rxsync */
		while (!nm_ring_empty(r)) {
			struct netmap_slot *s = &r->slot[r->head];
			unsigned seq;
			memcpy(&seq, NETMAP_BUF(r, s->buf_idx) + 14, sizeof(seq));
			if (seq != got)
				return 1;
			got++;
			r->head = r->cur = nm_ring_next(r, r->head);	/* release */
		}
	}
	nmport_close(d);
	printf("received %u frames\n", got);
	fflush(stdout);
	return got == N ? 0 : 1;
}

int main(void)
{
	struct nmport_d *d = nmport_open("netmap:hello{1");	/* master end */
	if (d == NULL) {
		perror("nmport_open");
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0)
		_exit(receiver());
	struct netmap_ring *r = NETMAP_TXRING(d->nifp, d->first_tx_ring);
	struct pollfd pfd = { .fd = d->fd, .events = POLLOUT };
	unsigned sent = 0;
	while (sent < N && poll(&pfd, 1, 2000) > 0) {	/* implicit txsync */
		while (sent < N && !nm_ring_empty(r)) {
			struct netmap_slot *s = &r->slot[r->head];
			char *buf = NETMAP_BUF(r, s->buf_idx);
			memset(buf, 0xff, 12);			/* broadcast, any src */
			buf[12] = 0x88, buf[13] = 0xb5;		/* local experimental */
			memcpy(buf + 14, &sent, sizeof(sent));
			s->len = 60;
			r->head = r->cur = nm_ring_next(r, r->head);
			sent++;
		}
	}
	ioctl(d->fd, NIOCTXSYNC, NULL);
	int st = 1;
	waitpid(pid, &st, 0);
	nmport_close(d);
	printf("sent %u frames\n", sent);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
