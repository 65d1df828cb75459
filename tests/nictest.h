/* Helpers for the NIC data-path tests (nic_xsk, nic_tpacket): a private
 * network namespace with a multi-queue veth pair, frames with a
 * recognisable payload, raw AF_PACKET sockets on the peer, a buffer area
 * laid out like a netmap region.  Include after testlib.h. */
#ifndef UNETMAP_NICTEST_H
#define UNETMAP_NICTEST_H
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <unetmap.h>
#include "testlib.h"

#define NT_NQ		4		/* queues of the veth pair */
#define NT_ETHERTYPE	0x88b5		/* IEEE local experimental */

/* The wrappers' messages (NIC tests are linked with the library objects) */
#define nt_err unetmap_last_error()

static inline void nt_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, val, strlen(val)) < 0) { /* best effort */ }
		close(fd);
	}
}

/* Skip unless root; move this process into a fresh network namespace
 * (everything in it disappears when the process exits) with IPv6 off, so
 * the kernel sends nothing by itself, and create va <-> vb, NT_NQ queues
 * each, both up. */
static inline void nt_setup_netns(void)
{
	if (geteuid() != 0) {
		printf("needs root (network namespaces, veth, AF_XDP/AF_PACKET)\n");
		exit(T_SKIP);
	}
	REQUIRE(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	nt_write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	nt_write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	REQUIRE(t_sh("ip link set lo up && ip link add va numrxqueues %d numtxqueues %d "
		      "type veth peer name vb numrxqueues %d numtxqueues %d && "
		      "ip link set va up && ip link set vb up", NT_NQ, NT_NQ, NT_NQ, NT_NQ) == 0,
		"creating the veth pair");
}

static inline int nt_ifindex(const char *name)
{
	int i = (int)if_nametoindex(name);
	REQUIRE(i > 0, "no interface %s", name);
	return i;
}

/* Frame number `no` of `len` bytes: broadcast, source 02:00:00:00:00:01,
 * NT_ETHERTYPE, then the number, the length and a pattern of both. */
static inline void nt_frame(unsigned char *f, unsigned len, uint32_t no)
{
	static const unsigned char src[6] = { 2, 0, 0, 0, 0, 1 };
	memset(f, 0xff, 6);
	memcpy(f + 6, src, 6);
	f[12] = NT_ETHERTYPE >> 8;
	f[13] = NT_ETHERTYPE & 0xff;
	memcpy(f + 14, &no, 4);
	memcpy(f + 18, &len, 4);
	for (unsigned i = 22; i < len; i++)
		f[i] = (unsigned char)(i * 7 + no * 13);
}

/* Is f[0..len) an intact frame of length len?  Its number, or -1. */
static inline long nt_frame_check(const unsigned char *f, unsigned len)
{
	uint32_t no, flen;
	if (len < 22 || f[12] != (NT_ETHERTYPE >> 8) || f[13] != (NT_ETHERTYPE & 0xff))
		return -1;
	memcpy(&no, f + 14, 4);
	memcpy(&flen, f + 18, 4);
	if (flen != len)
		return -1;
	for (unsigned i = 22; i < len; i++)
		if (f[i] != (unsigned char)(i * 7 + no * 13))
			return -1;
	return no;
}

/* raw AF_PACKET socket on an interface, NT_ETHERTYPE frames only */
static inline int nt_packet_socket(const char *ifname)
{
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(NT_ETHERTYPE));
	REQUIRE(s >= 0, "AF_PACKET socket: %s", strerror(errno));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(NT_ETHERTYPE),
				   .sll_ifindex = nt_ifindex(ifname) };
	REQUIRE(bind(s, (struct sockaddr *)&sll, sizeof(sll)) == 0, "bind: %s", strerror(errno));
	int big = 4 << 20;
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	return s;
}

static inline void nt_packet_send(int s, const char *ifname, const unsigned char *f, unsigned len)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = nt_ifindex(ifname),
				   .sll_halen = 6 };
	memset(sll.sll_addr, 0xff, 6);
	ssize_t r = sendto(s, f, len, 0, (struct sockaddr *)&sll, sizeof(sll));
	CHECK(r == (ssize_t)len, "sendto %u bytes: %s", len, strerror(errno));
}

/* receive one frame within timeout_ms; its length, or -1 */
static inline int nt_packet_recv(int s, unsigned char *buf, unsigned cap, int timeout_ms)
{
	struct pollfd p = { .fd = s, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	ssize_t r = recv(s, buf, cap, MSG_DONTWAIT);
	return r < 0 ? -1 : (int)r;
}

/* A memory area laid out like a netmap region in /dev/shm: NT_POOL_OFF
 * bytes of "if and ring pools", then nbufs buffers of bufsz bytes.
 * Returns the region base; *pool is the start of the buffer pool. */
#define NT_POOL_OFF	(64u << 10)
static inline unsigned char *nt_region(size_t nbufs, size_t bufsz, unsigned char **pool,
				       size_t *total)
{
	char path[] = "/dev/shm/unetmap-nictest.XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0, "mkstemp: %s", strerror(errno));
	unlink(path);
	*total = NT_POOL_OFF + nbufs * bufsz;
	REQUIRE(ftruncate(fd, (off_t)*total) == 0, "ftruncate");
	unsigned char *base = mmap(NULL, *total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(base != MAP_FAILED, "mmap: %s", strerror(errno));
	close(fd);
	*pool = base + NT_POOL_OFF;
	return base;
}

/* socket mappings in /proc/self/maps (AF_XDP and PACKET_MMAP rings), to
 * see that nothing stays mapped */
static inline int nt_map_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, "socket:[") != NULL;
	fclose(f);
	return n;
}

/* open file descriptors of this process */
static inline int nt_fd_count(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}
#endif
