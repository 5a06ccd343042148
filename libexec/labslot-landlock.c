/*
 * labslot-landlock, native: the same program as libexec/labslot-landlock (the
 * python3 launcher), without python3's start-up (~10 ms of CPU per job, issue
 * 17). Same command line, messages and exit codes; that script's header is
 * the contract:
 *
 *   labslot-landlock --abi            prints the kernel's Landlock ABI (0: none)
 *   labslot-landlock --scope -- CMD   with ABI 6 or later: restricts itself so
 *                                     that it and everything it starts can
 *                                     connect only to abstract sockets made in
 *                                     this same domain, then execs CMD; with an
 *                                     older kernel, execs CMD unscoped. If the
 *                                     kernel has ABI 6 and the scope cannot be
 *                                     applied, CMD never runs (exit 125).
 *
 * The package build compiles it into dist/libexec (scripts/build-libexec.mjs);
 * src/platform/linux/landlock.ts runs it when it is there, python3 otherwise.
 * Only libc: <linux/landlock.h> on older build hosts lacks the `scoped` field
 * (Debian 12's has only handled_access_fs), so the ABI is spelled out here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The same numbers on every architecture (the table was unified before 5.13 added Landlock). */
#define SYS_LANDLOCK_CREATE_RULESET 444
#define SYS_LANDLOCK_RESTRICT_SELF 446
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define SCOPE_ABI 6
/* Exit code of the sandbox's own failures (sandbox.ts uses it too), as opposed to the job's. */
#define SANDBOX_FAILED 125
#define USAGE "usage: labslot-landlock --abi | --scope -- COMMAND [ARG...]"

/* The kernel's struct landlock_ruleset_attr as of ABI 6 (it only grows; its size tells which fields we mean). */
struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/* Why a step failed, for fail(); the messages are the python launcher's, word for word. */
static char failure[256];

_Noreturn static void fail(int code, const char *format, ...)
{
	va_list args;
	va_start(args, format);
	fputs("labslot-landlock: ", stderr);
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
	va_end(args);
	exit(code);
}

/* The kernel's Landlock ABI version (0 when it has none or Landlock is off at boot); -1 on failure. */
static long landlock_abi(void)
{
	long abi = syscall(SYS_LANDLOCK_CREATE_RULESET, NULL, (size_t)0, (uint32_t)LANDLOCK_CREATE_RULESET_VERSION);
	if (abi >= 0)
		return abi;
	/* ENOSYS: kernel older than 5.13; EOPNOTSUPP: built in but not enabled (lsm= on the command line). */
	if (errno == ENOSYS || errno == EOPNOTSUPP)
		return 0;
	snprintf(failure, sizeof failure, "cannot ask the kernel for its Landlock ABI: %s", strerror(errno));
	return -1;
}

/* Only the socket scope: no file system or network rights are handled (the sandbox does those). 0, or -1 on failure. */
static int scope_abstract_unix_sockets(void)
{
	const struct ruleset_attr attr = { .scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET };
	long ruleset = syscall(SYS_LANDLOCK_CREATE_RULESET, &attr, sizeof attr, (uint32_t)0);
	if (ruleset < 0) {
		snprintf(failure, sizeof failure, "landlock_create_ruleset: %s", strerror(errno));
		return -1;
	}
	int result = 0;
	/* setpriv already set it; restrict_self requires it, so make sure rather than assume. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL) != 0) {
		snprintf(failure, sizeof failure, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		result = -1;
	} else if (syscall(SYS_LANDLOCK_RESTRICT_SELF, (int)ruleset, (uint32_t)0) != 0) {
		snprintf(failure, sizeof failure, "landlock_restrict_self: %s", strerror(errno));
		result = -1;
	}
	/* The domain is ours now; the job has no use for the ruleset's descriptor. */
	close((int)ruleset);
	return result;
}

/*
 * Python's os.execvp, which the python launcher used: the first PATH entry that
 * runs, else the first error that is not "not found" (else the last one). Not
 * glibc's execvp, which would run a file without #! through /bin/sh and give
 * up on the first unusual error.
 */
static void exec_like_python(char *const command[])
{
	const char *file = command[0];
	if (strchr(file, '/') != NULL) {
		execv(file, command);
		return;
	}
	const char *path = getenv("PATH");
	if (path == NULL)
		path = "/bin:/usr/bin"; /* os.defpath */
	int saved = 0;
	int last = ENOENT;
	for (const char *dir = path;; dir++) {
		const char *end = strchrnul(dir, ':');
		size_t length = (size_t)(end - dir);
		char *full = malloc(length + strlen(file) + 2);
		if (full == NULL) {
			last = ENOMEM;
			break;
		}
		/* os.path.join: an empty entry is the file itself (the working directory). */
		if (length == 0)
			strcpy(full, file);
		else
			sprintf(full, "%.*s%s%s", (int)length, dir, dir[length - 1] == '/' ? "" : "/", file);
		execv(full, command);
		last = errno;
		free(full);
		if (saved == 0 && last != ENOENT && last != ENOTDIR)
			saved = last;
		if (*end == '\0')
			break;
		dir = end;
	}
	errno = saved != 0 ? saved : last;
}

int main(int argc, char *argv[])
{
	if (argc == 2 && strcmp(argv[1], "--abi") == 0) {
		long abi = landlock_abi();
		if (abi < 0)
			fail(1, "%s", failure);
		if (printf("%ld\n", abi) < 0 || fflush(stdout) != 0)
			fail(1, "cannot print the ABI: %s", strerror(errno));
		return 0;
	}
	if (argc < 4 || strcmp(argv[1], "--scope") != 0 || strcmp(argv[2], "--") != 0)
		fail(2, "%s", USAGE);
	char *const *command = argv + 3;

	long abi = landlock_abi();
	if (abi < 0 || (abi >= SCOPE_ABI && scope_abstract_unix_sockets() != 0))
		fail(SANDBOX_FAILED, "%s: the job does not start without its abstract-socket scope", failure);
	/*
	 * Ignored signals survive exec. The python launcher reset these two (Python
	 * ignores them for itself), so the job always got the defaults, whatever its
	 * parent ignored: `yes | head` dies quietly instead of seeing EPIPE.
	 */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);
	exec_like_python(command);
	fail(127, "cannot run %s: %s", command[0], strerror(errno));
}
