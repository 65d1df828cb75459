/* Description: 1000 open/close cycles of ephemeral VALE ports next to an
 * open peer, with traffic both ways in most cycles (and frames left unread
 * at close in some): afterwards the peer's region, a shared region, the
 * switch list, the switch's port list, the runtime directory, and this
 * process's descriptors and mappings are all as they were. */
#include <dirent.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <libnetmap.h>
#include <unetmap.h>
#include "testlib.h"
#include "valetest.h"

#define CYCLES 1000

static int count_dir(const char *path, const char *prefix)
{
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/* mappings of files in the runtime directory (other mappings, e.g. a
 * sanitizer's, come and go on their own) */
static int count_maps(bool print)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		return -1;
	int n = 0;
	char line[1024];
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, unetmap_dir()) == NULL)
			continue;
		n++;
		if (print)
			fprintf(stderr, "  %s", line);
	}
	fclose(f);
	return n;
}

/* up to n broadcasts from source srcid, as many as there is room for, then
 * one txsync */
static void send_n(struct nmport_d *d, int n, uint8_t srcid, uint32_t tag)
{
	for (int k = 0; k < n && !nm_ring_empty(NETMAP_TXRING(d->nifp, 0)); k++)
		vt_queue(d, 0, vt_bcast, srcid, tag, 60);
	vt_txsync(d);
}

/* frames waiting on d, released; the first must have tag want_tag */
static int drain(struct nmport_d *d, uint32_t want_tag)
{
	uint32_t tag = 0;
	int n = vt_recv(d, 0, &tag, 1, true);
	if (n > 0 && tag != want_tag)
		CHECK(0, "tag %u, want %u", tag, want_tag);
	return n;
}

struct snap {
	struct unetmap_mem_stats peer, shared;
	int switches, ports, mem_files, reg_files, vale_files, fds, maps;
	char swnames[8][16];
};

static void snap(struct snap *s, struct nmport_d *peer, struct nmport_d *anchor)
{
	memset(s, 0, sizeof(*s));
	REQUIRE(unetmap_mem_stats(peer->reg.nr_mem_id, &s->peer) == 0, "peer stats");
	REQUIRE(unetmap_mem_stats(anchor->reg.nr_mem_id, &s->shared) == 0, "shared stats");
	s->switches = unetmap_vale_switches(s->swnames, 8);
	struct unetmap_vale_port_stats st[8];
	s->ports = unetmap_vale_stats("vale0", st, 8);
	s->mem_files = count_dir(unetmap_dir(), "mem-");
	s->reg_files = count_dir(unetmap_dir(), "reg-");
	s->vale_files = count_dir(unetmap_dir(), "vale-");
	s->fds = count_dir("/proc/self/fd", "");
	s->maps = count_maps(false);
}

static void same_mem(const char *what, const struct unetmap_mem_stats *a,
		     const struct unetmap_mem_stats *b)
{
	CHECK(a->ring_free == b->ring_free, "%s rings free %u -> %u", what, a->ring_free,
	      b->ring_free);
	CHECK(a->if_free == b->if_free, "%s netmap_ifs free %u -> %u", what, a->if_free,
	      b->if_free);
	CHECK(a->buf_free == b->buf_free, "%s buffers free %u -> %u", what, a->buf_free,
	      b->buf_free);
	CHECK(a->users == b->users, "%s users %u -> %u", what, a->users, b->users);
}

int main(void)
{
	t_setup(120);
	struct nmport_d *peer = t_open("vale0:peer");
	/* a region several cycle ports share through @memid */
	struct nmport_d *anchor = t_open("vale1:anchor@conf:slots=64");
	char shared[16];
	snprintf(shared, sizeof(shared), "@%u", anchor->reg.nr_mem_id);
	/* warm-up cycle: the first open in a process maps things once */
	struct nmport_d *w = t_open("vale0:warm");
	send_n(peer, 1, 0x20, 0);	/* the peer maps the switch and w's region */
	nmport_close(w);
	send_n(peer, 1, 0x20, 0);	/* ... and lets w's region go again */
	unetmap_gc();
	struct snap s0, s1;
	snap(&s0, peer, anchor);
	fprintf(stderr, "start: %d switches, %d ports, files mem %d reg %d vale %d, %d fds, "
		"%d mappings\n", s0.switches, s0.ports, s0.mem_files, s0.reg_files, s0.vale_files,
		s0.fds, s0.maps);

	int64_t t0 = unm_test_now_ms();
	uint16_t last_mem = 0;
	for (int c = 0; c < CYCLES; c++) {
		char spec[64];
		int kind = c % 10;
		if (kind == 7)
			snprintf(spec, sizeof(spec), "vale0:c%d%s@conf:slots=64", c % 3, shared);
		else if (kind == 8)
			snprintf(spec, sizeof(spec), "vale0:c%d@conf:rings=3,slots=128", c % 3);
		else
			snprintf(spec, sizeof(spec), "vale0:c%d", c % 3);
		struct nmport_d *d = nmport_open(spec);
		if (d == NULL) {
			CHECK(0, "cycle %d: open %s: %s (%s)", c, spec, strerror(errno),
			      unetmap_last_error());
			break;
		}
		if (kind == 7)
			CHECK(d->reg.nr_mem_id == anchor->reg.nr_mem_id, "cycle %d: mem %u", c,
			      d->reg.nr_mem_id);
		else if (c > 0)
			CHECK(d->reg.nr_mem_id != peer->reg.nr_mem_id, "cycle %d: peer's region", c);
		if (kind != 7 && last_mem != 0 && d->reg.nr_mem_id != last_mem) {
			struct unetmap_mem_stats gone;
			CHECK(unetmap_mem_stats(last_mem, &gone) == -EINVAL,
			      "cycle %d: region %u of the previous cycle's port still exists", c,
			      last_mem);
		}
		if (kind != 7)
			last_mem = d->reg.nr_mem_id;
		if (kind != 9) {
			/* traffic both ways */
			send_n(d, 1 + c % 5, 0x10, (uint32_t)c);
			CHECK(drain(peer, (uint32_t)c) == 1 + c % 5, "cycle %d: peer got wrong count", c);
			send_n(peer, 2, 0x20, (uint32_t)c + 100000);
			int got = drain(d, (uint32_t)c + 100000);
			CHECK(got == 2, "cycle %d: cycle port got %d of 2", c, got);
			if (kind == 3)	/* leave frames unread in the RX ring at close */
				send_n(peer, 5, 0x20, 0);
		}
		nmport_close(d);
		if (t_failures > 20 || unm_test_now_ms() - t0 > 90000)
			break;
	}
	fprintf(stderr, "%d cycles in %lld ms\n", CYCLES, (long long)(unm_test_now_ms() - t0));
	unetmap_gc();
	/* the peer's txsync caches the destinations' regions until it next
	 * sees the switch change: one more sync lets the last one go */
	send_n(peer, 1, 0x20, 0);
	snap(&s1, peer, anchor);
	same_mem("peer region", &s0.peer, &s1.peer);
	same_mem("shared region", &s0.shared, &s1.shared);
	CHECK(s1.switches == s0.switches, "switches %d -> %d", s0.switches, s1.switches);
	for (int i = 0; i < s0.switches && i < 8; i++)
		CHECK(strcmp(s0.swnames[i], s1.swnames[i]) == 0, "switch %d: %s -> %s", i,
		      s0.swnames[i], s1.swnames[i]);
	CHECK(s1.ports == s0.ports, "vale0 ports %d -> %d", s0.ports, s1.ports);
	CHECK(s1.mem_files == s0.mem_files, "mem files %d -> %d", s0.mem_files, s1.mem_files);
	CHECK(s1.reg_files == s0.reg_files, "reg files %d -> %d", s0.reg_files, s1.reg_files);
	CHECK(s1.vale_files == s0.vale_files, "vale files %d -> %d", s0.vale_files,
	      s1.vale_files);
	CHECK(s1.fds == s0.fds, "open descriptors %d -> %d", s0.fds, s1.fds);
	CHECK(s1.maps == s0.maps, "mappings of runtime files %d -> %d", s0.maps, s1.maps);
	if (s1.maps != s0.maps)
		count_maps(true);
	/* the switch still forwards */
	struct nmport_d *d = t_open("vale0:after");
	send_n(d, 3, 0x30, 777);
	CHECK(drain(peer, 777) == 3, "after the cycles: peer gets frames");
	nmport_close(d);
	nmport_close(anchor);
	nmport_close(peer);
	char names[4][16];
	CHECK(unetmap_vale_switches(names, 4) == 0, "switches left at the end");
	CHECK(count_dir(unetmap_dir(), "mem-") == 0, "region files left: %d",
	      count_dir(unetmap_dir(), "mem-"));
	CHECK(count_dir(unetmap_dir(), "vale-") == 0, "switch files left: %d",
	      count_dir(unetmap_dir(), "vale-"));
	return t_done();
}
