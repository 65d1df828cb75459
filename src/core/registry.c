/*
 * registry.c - the shared registry: one robust lock, regions, ports and
 * registrations, and the collection of registrations whose holders died.
 *
 * Liveness: each registration owns a FIFO that its holders keep open with
 * an exclusive flock().  The lock belongs to the open file description, so
 * it stays held across dup(), fork() and SCM_RIGHTS passing, and the kernel
 * drops it when the last holder closes or dies.  A registration is dead iff
 * somebody else can take that lock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "core/unm.h"

static struct unm_registry *registry;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

/* GC at most this often when nothing forces it */
#define GC_INTERVAL_NS 500000000LL

static int mkdir_p(const char *dir)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0777);
		*p = '/';
	}
	if (mkdir(buf, 01777) == 0) {
		/* shared by every user allowed in; files carry their own modes */
		chmod(buf, 01777);
		return 0;
	}
	return errno == EEXIST ? 0 : -errno;
}

static struct unm_registry *registry_open(void)
{
	char path[512];
	const char *dir = unm_dir();
	int ret = mkdir_p(dir);
	if (ret < 0) {
		unm_seterr("cannot create runtime directory %s: %s", dir, strerror(-ret));
		errno = -ret;
		return NULL;
	}
	if (unm_path(path, sizeof(path), "registry") < 0) {
		unm_seterr("runtime directory name too long");
		errno = ENAMETOOLONG;
		return NULL;
	}
	int fd = unm_real_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		int e = errno;
		unm_seterr("cannot open %s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	/* serialise first-time initialisation between processes */
	flock(fd, LOCK_EX);
	struct stat st;
	size_t size = sizeof(struct unm_registry);
	if (fstat(fd, &st) == 0 && (size_t)st.st_size < size) {
		fchmod(fd, 0666);
		if (ftruncate(fd, (off_t)size) < 0) {
			int e = errno;
			flock(fd, LOCK_UN);
			unm_real_close(fd);
			unm_seterr("cannot size %s: %s", path, strerror(e));
			errno = e;
			return NULL;
		}
	}
	struct unm_registry *r = unm_real_mmap(NULL, size, PROT_READ | PROT_WRITE,
					       MAP_SHARED, fd, 0);
	if (r == MAP_FAILED) {
		int e = errno;
		flock(fd, LOCK_UN);
		unm_real_close(fd);
		errno = e;
		return NULL;
	}
	if (r->magic != UNM_REGISTRY_MAGIC) {
		pthread_mutexattr_t a;
		pthread_mutexattr_init(&a);
		pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
		pthread_mutex_init(&r->lock, &a);
		pthread_mutexattr_destroy(&a);
		r->version = UNM_REGISTRY_VERSION;
		r->size = size;
		r->last_mem_id = 1;
		unm_store_release(&r->magic, UNM_REGISTRY_MAGIC);
	} else if (r->size != size || r->version != UNM_REGISTRY_VERSION) {
		flock(fd, LOCK_UN);
		unm_real_close(fd);
		munmap(r, size);
		unm_seterr("%s was made by an incompatible unetmap version", path);
		errno = EPROTO;
		return NULL;
	}
	flock(fd, LOCK_UN);
	unm_real_close(fd);
	return r;
}

struct unm_registry *unm_registry(void)
{
	struct unm_registry *r = __atomic_load_n(&registry, __ATOMIC_ACQUIRE);
	if (r != NULL)
		return r;
	pthread_mutex_lock(&init_lock);
	if (registry == NULL)
		__atomic_store_n(&registry, registry_open(), __ATOMIC_RELEASE);
	r = registry;
	pthread_mutex_unlock(&init_lock);
	return r;
}

int unm_lock(void)
{
	struct unm_registry *r = unm_registry();
	if (r == NULL)
		return -(errno ? errno : EIO);
	int ret = pthread_mutex_lock(&r->lock);
	if (ret == EOWNERDEAD) {
		/* A process died inside a control operation: rebuild the
		 * derived counters from the committed registrations, then
		 * release the registrations of dead holders. */
		pthread_mutex_consistent(&r->lock);
		unm_repair_locked();
		unm_gc_locked(true);
		return 0;
	}
	return ret == 0 ? 0 : -ret;
}

void unm_unlock(void)
{
	pthread_mutex_unlock(&unm_registry()->lock);
}

void unm_fifo_path(char *buf, size_t len, uint32_t reg, uint32_t gen)
{
	unm_path(buf, len, "reg-%u-%u", reg, gen);
}

/* A registration is dead when nobody holds its FIFO's lock.  Without
 * `force`, one whose creating process is alive is taken as alive (the
 * common case, one kill(0) instead of open+flock). */
static bool reg_dead(uint32_t idx, bool force)
{
	struct unm_reg *g = &unm_registry()->regs[idx];
	bool creator_alive = g->pid == getpid() || unm_pid_alive(g->pid);
	if (creator_alive && !force)
		return false;
	char path[512];
	unm_fifo_path(path, sizeof(path), idx, g->gen);
	int fd = unm_real_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd < 0)
		return !creator_alive;	/* being created, or gone */
	bool dead = flock(fd, LOCK_EX | LOCK_NB) == 0;
	unm_real_close(fd);
	return dead;
}

bool unm_reg_dead_locked(uint32_t idx)
{
	return reg_dead(idx, true);
}

/* Files whose object is gone: a FIFO or region whose owner could not
 * unlink it (a process that dropped privileges after opening /dev/netmap,
 * in a sticky directory).  Removed when a forced collection runs. */
static void sweep_stale_files(void)
{
	struct unm_registry *r = unm_registry();
	DIR *d = opendir(unm_dir());
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		unsigned a, b;
		char tail;
		bool stale = false;
		if (sscanf(e->d_name, "reg-%u-%u%c", &a, &b, &tail) == 2)
			stale = a >= UNM_MAX_REGS || r->regs[a].state == UNM_REG_FREE ||
				r->regs[a].gen != b;
		else if (sscanf(e->d_name, "mem-%u-%u%c", &a, &b, &tail) == 2)
			stale = a >= UNM_MAX_MEMS || !r->mems[a].live || r->mems[a].gen != b;
		else if (strncmp(e->d_name, "vale-", 5) == 0)
			stale = unm_vale_stale_file(e->d_name);
		if (stale) {
			char path[512];
			if (unm_path(path, sizeof(path), "%s", e->d_name) == 0)
				unlink(path);
		}
	}
	closedir(d);
}

void unm_gc_locked(bool force)
{
	struct unm_registry *r = unm_registry();
	int64_t now = unm_now_ns();
	if (!force && now - r->last_gc_ns < GC_INTERVAL_NS)
		return;
	r->last_gc_ns = now;
	for (uint32_t i = 0; i < r->reg_hwm; i++) {
		if (r->regs[i].state != UNM_REG_FREE && reg_dead(i, force))
			unm_reg_release_locked(i);
	}
	if (force)
		sweep_stale_files();
}

int unm_reg_alloc_locked(uint32_t *idx)
{
	struct unm_registry *r = unm_registry();
	for (uint32_t i = 0; i < UNM_MAX_REGS; i++) {
		if (r->regs[i].state == UNM_REG_FREE) {
			struct unm_reg *g = &r->regs[i];
			memset(g, 0, sizeof(*g));
			g->gen = ++r->gen;
			g->state = UNM_REG_OPEN;
			g->pid = getpid();
			g->port = UNM_NONE;
			if (i >= r->reg_hwm)
				r->reg_hwm = i + 1;
			*idx = i;
			return 0;
		}
	}
	unm_seterr("too many open netmap file descriptors (%d)", UNM_MAX_REGS);
	return -ENFILE;
}

int unm_port_alloc_locked(uint32_t *idx)
{
	struct unm_registry *r = unm_registry();
	for (uint32_t i = 0; i < UNM_MAX_PORTS; i++) {
		if (r->ports[i].kind == UNM_PORT_FREE) {
			struct unm_port *p = &r->ports[i];
			memset(p, 0, sizeof(*p));
			p->parent = p->peer = UNM_NONE;
			p->tx_obj = p->rx_obj = UNM_NONE;
			if (i >= r->port_hwm)
				r->port_hwm = i + 1;
			*idx = i;
			return 0;
		}
	}
	unm_seterr("too many ports (%d)", UNM_MAX_PORTS);
	return -ENOMEM;
}

struct unm_port *unm_port_find_locked(const char *name)
{
	struct unm_registry *r = unm_registry();
	for (uint32_t i = 0; i < r->port_hwm; i++) {
		struct unm_port *p = &r->ports[i];
		if (p->kind != UNM_PORT_FREE && strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}
