/*
 * unetmap-run - run an unmodified netmap program on unetmap.
 *
 *   unetmap-run PROGRAM [ARGS...]
 *
 * Puts libunetmap.so first in LD_PRELOAD so that the program's open, ioctl,
 * mmap, poll, select, epoll, close, dup and fork on /dev/netmap reach
 * unetmap, then executes it.  A statically linked program has no dynamic
 * loader to preload into: it is refused with a message instead of being
 * left to fail on a missing /dev/netmap.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr,
		"usage: unetmap-run PROGRAM [ARGS...]\n"
		"  runs a program built for netmap (/dev/netmap) on unetmap by preloading\n"
		"  libunetmap.so (set UNETMAP_LIB to use another copy of the library)\n");
}

/* the library next to this tool: BIN/../lib/libunetmap.so */
static int find_lib(char *out, size_t len)
{
	const char *env = getenv("UNETMAP_LIB");
	if (env != NULL && *env != '\0') {
		snprintf(out, len, "%s", env);
		return access(out, R_OK);
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	snprintf(out, len, "%s/../lib/libunetmap.so", dirname(self));
	char *real = realpath(out, NULL);
	if (real == NULL)
		return -1;
	snprintf(out, len, "%s", real);
	free(real);
	return 0;
}

/* search PATH like execvp does */
static int resolve(const char *prog, char *out, size_t len)
{
	if (strchr(prog, '/') != NULL) {
		snprintf(out, len, "%s", prog);
		return access(out, X_OK);
	}
	const char *path = getenv("PATH");
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/bin:/bin");
	for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", *d ? d : ".", prog);
		if (access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* 1 if the ELF file has no program interpreter (static), 0 if dynamic,
 * -1 if it is not a 64-bit ELF we can read (a script, say: let exec try) */
static int is_static(const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	Elf64_Ehdr eh;
	int ret = -1;
	if (read(fd, &eh, sizeof(eh)) == (ssize_t)sizeof(eh) &&
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64) {
		ret = 1;
		for (int i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;
			if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize))
			    != (ssize_t)sizeof(ph))
				break;
			if (ph.p_type == PT_INTERP) {
				ret = 0;
				break;
			}
		}
	}
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage();
		return argc < 2 ? 1 : 0;
	}
	char lib[PATH_MAX], prog[PATH_MAX];
	if (find_lib(lib, sizeof(lib)) != 0) {
		fprintf(stderr, "unetmap-run: cannot find libunetmap.so (set UNETMAP_LIB)\n");
		return 127;
	}
	if (resolve(argv[1], prog, sizeof(prog)) != 0) {
		fprintf(stderr, "unetmap-run: %s: command not found\n", argv[1]);
		return 127;
	}
	if (is_static(prog) == 1) {
		fprintf(stderr, "unetmap-run: %s is statically linked: its system calls cannot be "
			"interposed, so it cannot use unetmap (rebuild it dynamically linked, or "
			"link it with -lunetmap)\n", prog);
		return 126;
	}
	const char *old = getenv("LD_PRELOAD");
	char *pre;
	if (old != NULL && *old != '\0') {
		size_t n = strlen(lib) + strlen(old) + 2;
		pre = malloc(n);
		if (pre == NULL)
			return 127;
		snprintf(pre, n, "%s:%s", lib, old);
	} else {
		pre = lib;
	}
	setenv("LD_PRELOAD", pre, 1);
	execv(prog, argv + 1);
	fprintf(stderr, "unetmap-run: %s: %s\n", prog, strerror(errno));
	return 126;
}
