/*
 * pcap_inject DEV COUNT LEN MODE
 *
 * Opens DEV with libpcap (pcap_open_live, e.g. "netmap:inj{1"), writes COUNT
 * frames of LEN bytes with pcap_inject() and then makes them leave.  libpcap's
 * netmap inject only fills TX slots; frames are handed on by the implicit
 * txsync of the next poll() on the descriptor.  MODE chooses who pushes the
 * frames left at the end:
 *   dispatch  pcap_dispatch() (libpcap's own poll(POLLIN) loop), stopped after
 *             300 ms by pcap_breakloop() from a SIGALRM handler
 *   poll      poll(POLLOUT) on pcap_get_selectable_fd()
 * A full ring (pcap_inject returns 0) is always waited on with poll(POLLOUT)
 * on pcap_get_selectable_fd(): a POLLIN-only poll (all pcap_dispatch does)
 * runs the implicit txsync only on rings with unsent slots (netmap_poll's
 * rule), so once everything was pushed it never reclaims the slots the
 * receiver released, and a full ring would stay full.
 *
 * Frame i: dst 02:00:00:00:00:02, src 02:00:00:00:00:01, ethertype 0x88b5,
 * then "UNMP", i as 32-bit big endian, then bytes (i + k) & 0xff.
 * Built by tests/scripts/libpcap_tcpdump.sh against the libpcap it builds;
 * run with LD_PRELOAD=libunetmap.so.  Exit 0 on success.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <pcap.h>

static pcap_t *pc;

static void on_alarm(int sig)
{
	(void)sig;
	pcap_breakloop(pc);
}

static void on_packet(u_char *u, const struct pcap_pkthdr *h, const u_char *b)
{
	(void)u; (void)h; (void)b;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* poll(POLLOUT) on the selectable fd: txsync, wait up to 1 s for room */
static int wait_room(void)
{
	struct pollfd pfd = { .fd = pcap_get_selectable_fd(pc), .events = POLLOUT };
	if (pfd.fd < 0) {
		fprintf(stderr, "pcap_get_selectable_fd: %d\n", pfd.fd);
		return -1;
	}
	if (poll(&pfd, 1, 1000) < 0) {
		perror("poll");
		return -1;
	}
	return 0;
}

/* one implicit txsync through the chosen path; 0 ok, -1 error */
static int flush(const char *mode)
{
	if (strcmp(mode, "poll") == 0)
		return wait_room();
	struct itimerval it = { .it_value = { .tv_sec = 0, .tv_usec = 300000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	int r = pcap_dispatch(pc, -1, on_packet, NULL);
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	if (r == PCAP_ERROR) {
		fprintf(stderr, "pcap_dispatch: %s\n", pcap_geterr(pc));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5 || (strcmp(argv[4], "poll") && strcmp(argv[4], "dispatch"))) {
		fprintf(stderr, "usage: %s DEV COUNT LEN dispatch|poll\n", argv[0]);
		return 2;
	}
	const char *dev = argv[1], *mode = argv[4];
	long count = strtol(argv[2], NULL, 0);
	int len = atoi(argv[3]);
	if (count < 0 || len < 22 || len > 2048) {
		fprintf(stderr, "bad COUNT or LEN\n");
		return 2;
	}

	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pc = pcap_open_live(dev, 65535, 0, 100, errbuf);
	if (pc == NULL) {
		fprintf(stderr, "pcap_open_live(%s): %s\n", dev, errbuf);
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;      /* no SA_RESTART: interrupt poll() */
	sigaction(SIGALRM, &sa, NULL);

	unsigned char frame[2048];
	static const unsigned char hdr[14] = {
		0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5 };
	long sent = 0, full = 0;
	double deadline = now() + 15;
	while (sent < count) {
		memcpy(frame, hdr, sizeof(hdr));
		memcpy(frame + 14, "UNMP", 4);
		uint32_t i = (uint32_t)sent;
		frame[18] = i >> 24; frame[19] = i >> 16; frame[20] = i >> 8; frame[21] = i;
		for (int k = 22; k < len; k++)
			frame[k] = (unsigned char)(i + k);
		int r = pcap_inject(pc, frame, (size_t)len);
		if (r == len) {
			sent++;
			continue;
		}
		if (r != 0) {
			fprintf(stderr, "pcap_inject returned %d: %s\n", r, pcap_geterr(pc));
			return 1;
		}
		full++;                         /* ring full: push and retry */
		if (now() > deadline) {
			fprintf(stderr, "timeout: ring stays full after %ld frames\n", sent);
			return 1;
		}
		if (wait_room() < 0)
			return 1;
	}
	if (flush(mode) < 0)
		return 1;
	printf("injected %ld frames of %d bytes into %s (%ld ring-full waits, last frames pushed by %s)\n",
	       sent, len, dev, full, mode);
	struct pcap_stat st;
	if (pcap_stats(pc, &st) == 0)
		printf("pcap_stats: recv %u drop %u\n", st.ps_recv, st.ps_drop);
	pcap_close(pc);
	return 0;
}
