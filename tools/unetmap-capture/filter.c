/*
 * BPF filters, compiled by libpcap loaded at run time.
 *
 * The tool is not linked with libpcap: only a capture with a filter needs
 * it, and then dlopen() looks for Debian's libpcap0.8 (libpcap.so.0.8,
 * the soname Debian keeps), or a libpcap.so.1 elsewhere.  We use five of
 * its functions, declared here with libpcap's ABI: a "dead" pcap_t for
 * Ethernet gives pcap_compile() the link type and snaplen, and
 * pcap_offline_filter() runs the program on each frame.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "capture.h"

/* libpcap's types, as its headers define them */
typedef struct pcap pcap_t;
struct bpf_insn {
	unsigned short code;
	unsigned char jt;
	unsigned char jf;
	uint32_t k;
};
struct bpf_program {
	unsigned int bf_len;
	struct bpf_insn *bf_insns;
};
struct pcap_pkthdr {
	struct timeval ts;
	uint32_t caplen;
	uint32_t len;
};
#define DLT_EN10MB		1
#define PCAP_NETMASK_UNKNOWN	0xffffffffu

typedef pcap_t *(*open_dead_fn)(int, int);
typedef int (*compile_fn)(pcap_t *, struct bpf_program *, const char *, int,
			  uint32_t);
typedef int (*offline_filter_fn)(const struct bpf_program *,
				 const struct pcap_pkthdr *,
				 const unsigned char *);
typedef char *(*geterr_fn)(pcap_t *);
typedef void (*freecode_fn)(struct bpf_program *);
typedef void (*close_fn)(pcap_t *);

struct cap_filter {
	void *lib;
	pcap_t *pcap;
	struct bpf_program prog;
	offline_filter_fn offline_filter;
	freecode_fn freecode;
	close_fn close;
};

/* dlsym() into a function pointer without an object-to-function cast */
#define LOAD(lib, name, fp) do {					\
		void *sym_ = dlsym((lib), (name));			\
		memcpy(&(fp), &sym_, sizeof(fp));			\
	} while (0)

static const char *const libnames[] = { "libpcap.so.0.8", "libpcap.so.1" };

struct cap_filter *filter_compile(const char *expr, uint32_t snaplen)
{
	struct cap_filter *f = calloc(1, sizeof(*f));
	open_dead_fn open_dead;
	compile_fn compile;
	geterr_fn geterr;
	char why[256] = "";
	size_t i;

	if (f == NULL) {
		fprintf(stderr, "%s: out of memory\n", CAP_PROG);
		return NULL;
	}
	for (i = 0; i < sizeof(libnames) / sizeof(libnames[0]); i++) {
		f->lib = dlopen(libnames[i], RTLD_NOW | RTLD_LOCAL);
		if (f->lib != NULL)
			break;
		if (i == 0) {	/* report the first (Debian's) name */
			const char *e = dlerror();

			snprintf(why, sizeof(why), "%s", e ? e : "not found");
		}
	}
	if (f->lib == NULL) {
		fprintf(stderr, "%s: a filter expression needs libpcap, which "
			"could not be loaded (%s); install it (Debian: "
			"apt-get install libpcap0.8) or capture without a "
			"filter\n", CAP_PROG, why);
		free(f);
		return NULL;
	}
	LOAD(f->lib, "pcap_open_dead", open_dead);
	LOAD(f->lib, "pcap_compile", compile);
	LOAD(f->lib, "pcap_geterr", geterr);
	LOAD(f->lib, "pcap_offline_filter", f->offline_filter);
	LOAD(f->lib, "pcap_freecode", f->freecode);
	LOAD(f->lib, "pcap_close", f->close);
	if (!open_dead || !compile || !geterr || !f->offline_filter ||
	    !f->freecode || !f->close) {
		fprintf(stderr, "%s: the libpcap found lacks pcap_open_dead, "
			"pcap_compile or pcap_offline_filter\n", CAP_PROG);
		dlclose(f->lib);
		free(f);
		return NULL;
	}
	f->pcap = open_dead(DLT_EN10MB, (int)snaplen);
	if (f->pcap == NULL) {
		fprintf(stderr, "%s: pcap_open_dead failed\n", CAP_PROG);
		dlclose(f->lib);
		free(f);
		return NULL;
	}
	if (compile(f->pcap, &f->prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		fprintf(stderr, "%s: bad filter expression '%s': %s\n",
			CAP_PROG, expr, geterr(f->pcap));
		f->close(f->pcap);
		dlclose(f->lib);
		free(f);
		return NULL;
	}
	return f;
}

int filter_match(struct cap_filter *f, const struct timespec *ts,
		 const void *data, uint32_t caplen, uint64_t origlen)
{
	struct pcap_pkthdr h;

	h.ts.tv_sec = ts->tv_sec;
	h.ts.tv_usec = ts->tv_nsec / 1000;
	h.caplen = caplen;
	h.len = origlen > UINT32_MAX ? UINT32_MAX : (uint32_t)origlen;
	return f->offline_filter(&f->prog, &h, data) != 0;
}

void filter_free(struct cap_filter *f)
{
	if (f == NULL)
		return;
	f->freecode(&f->prog);
	f->close(f->pcap);
	dlclose(f->lib);
	free(f);
}
