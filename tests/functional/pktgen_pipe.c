/* Description: pkt-gen end to end over a pipe, as two processes: tx -> rx
 * counts every frame, txseq -> rxseq sees no loss and no reordering, and
 * multi-slot frames (-l 5000) arrive whole. */
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include "testlib.h"

static char pktgen[PATH_MAX];

/* run pkt-gen with args, output into a file; returns the pid */
static pid_t spawn(const char *out, char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(pktgen, argv);
		_exit(127);
	}
	return pid;
}

static int wait_rc(pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int grep_count(const char *file, const char *fmt, long *v)
{
	char line[512];
	FILE *f = fopen(file, "r");
	int found = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, fmt, v) == 1)
			found = 1;
	fclose(f);
	return found;
}

static void dump(const char *file)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "tail -n 8 %s >&2", file);
	if (system(cmd) != 0) { /* diagnostics only */ }
}

static void run_pair(const char *rxf, const char *txf, const char *len, const char *count)
{
	char rxo[300], txo[300];
	snprintf(rxo, sizeof(rxo), "%s/rx.out", t_dir);
	snprintf(txo, sizeof(txo), "%s/tx.out", t_dir);
	char *rxa[] = { pktgen, "-i", "netmap:pg}1", "-f", (char *)rxf, "-w", "0", "-n",
			(char *)count, NULL };
	char *txa[] = { pktgen, "-i", "netmap:pg{1", "-f", (char *)txf, "-w", "0", "-n",
			(char *)count, "-l", (char *)len, NULL };
	pid_t rx = spawn(rxo, rxa);
	usleep(200000);
	pid_t tx = spawn(txo, txa);
	int txrc = wait_rc(tx), rxrc = wait_rc(rx);
	CHECK(txrc == 0, "%s exit %d", txf, txrc);
	CHECK(rxrc == 0, "%s exit %d", rxf, rxrc);
	long sent = -1, got = -1, lost = -1, ooo = -1;
	CHECK(grep_count(txo, "Sent %ld packets", &sent), "tx summary");
	CHECK(grep_count(rxo, "Received %ld packets", &got), "rx summary");
	long want = atol(count);
	CHECK(sent == want, "%s sent %ld, want %ld", txf, sent, want);
	CHECK(got == want, "%s received %ld, want %ld", rxf, got, want);
	if (strcmp(rxf, "rxseq") == 0) {
		CHECK(grep_count(rxo, "Sequence on ring 0: %*d packets, %ld lost", &lost), "seq line");
		CHECK(grep_count(rxo, "Sequence on ring 0: %*d packets, %*d lost in %*d gaps, %ld out of order", &ooo), "ooo");
		CHECK(lost == 0 && ooo == 0, "lost %ld, out of order %ld", lost, ooo);
	}
	if (t_failures) {
		dump(txo);
		dump(rxo);
	}
}

int main(int argc, char **argv)
{
	(void)argc;
	t_setup(120);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	REQUIRE(n > 0, "readlink");
	self[n] = '\0';
	snprintf(pktgen, sizeof(pktgen), "%s/../../bin/pkt-gen", dirname(self));
	if (access(pktgen, X_OK) != 0) {
		fprintf(stderr, "%s: pkt-gen not built (%s)\n", argv[0], pktgen);
		return T_FAIL;
	}
	run_pair("rx", "tx", "60", "2000000");
	run_pair("rxseq", "txseq", "60", "1000000");
	run_pair("rxseq", "txseq", "5000", "50000");
	return t_done();
}
