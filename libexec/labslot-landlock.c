/*
 * labslot-landlock, native: the same program as libexec/labslot-landlock (the
 * python3 launcher), without python3's start-up (~10 ms of CPU per job, issue
 * 17). Same command line, messages and exit codes; that script's header is
 * the contract:
 *
 *   labslot-landlock --abi            prints the kernel's Landlock ABI (0: none)
 *   labslot-landlock --scope --expect-abi N [--report-fd FD] -- CMD
 *       N: the ABI the agent's start-up probe found (--abi). N >= 6: the
 *       agent promised jobs the abstract-socket scope, so CMD runs only
 *       inside it; if it cannot be established for any reason (the system
 *       calls fail, even with ENOSYS or EOPNOTSUPP, or report an older ABI),
 *       CMD never runs (exit 122). N < 6 (the agent warned at start that
 *       jobs run unscoped): scoped if the kernel can after all, else
 *       unscoped; if the kernel has ABI 6 and the scope cannot be applied,
 *       CMD never runs (exit 125).
 *       FD: a descriptor the launcher writes its failure line to as well,
 *       the same line as on stderr, so the agent learns from a channel the
 *       job cannot write that the job never started; it is close-on-exec,
 *       CMD never holds it.
 *       CMD gets descriptors 0, 1 and 2 only: whatever else reached the
 *       launcher (one the agent was started with, passed down the chain
 *       without close-on-exec) is close-on-exec. Its real-time priority
 *       limit (RLIMIT_RTPRIO) is 0, so it cannot preempt the agent's
 *       account tools, which run at real-time priority.
 *
 * The package build compiles it into dist/libexec (scripts/build-libexec.mjs);
 * src/platform/linux/landlock.ts runs it when it is there, python3 otherwise.
 * Only libc: <linux/landlock.h> on older build hosts lacks the `scoped` field
 * (Debian 12's has only handled_access_fs), so the ABI is spelled out here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
/* The agent expected the scope (--expect-abi 6 or more) and it could not be established: its own code, not 125. */
#define SCOPE_REFUSED 122
#define REFUSED "the job does not start without its abstract-socket scope"
#define USAGE "usage: labslot-landlock --abi | --scope --expect-abi N [--report-fd FD] -- COMMAND [ARG...]"

/* The kernel's struct landlock_ruleset_attr as of ABI 6 (it only grows; its size tells which fields we mean). */
struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/* Why a step failed, for fail(); the messages are the python launcher's, word for word. */
static char failure[256];
/* --report-fd, once checked: fail() writes its line there too. */
static int report_fd = -1;

_Noreturn static void fail(int code, const char *format, ...)
{
	char line[512];
	va_list args;
	va_start(args, format);
	int length = vsnprintf(line, sizeof line - 1, format, args);
	va_end(args);
	if (length < 0)
		length = 0;
	if ((size_t)length > sizeof line - 2)
		length = sizeof line - 2;
	line[length] = '\n';
	fputs("labslot-landlock: ", stderr);
	fwrite(line, 1, (size_t)length + 1, stderr);
	if (report_fd >= 0) {
		/* An agent gone meanwhile must not turn this exit code into a SIGPIPE: the line is on stderr too. */
		signal(SIGPIPE, SIG_IGN);
		dprintf(report_fd, "labslot-landlock: %.*s", length + 1, line);
	}
	exit(code);
}

/* A decimal number of at most 9 digits (argv is the agent's, but a typo must not pass as 0); -1 if not one. */
static long number(const char *text)
{
	size_t length = strlen(text);
	if (length == 0 || length > 9 || strspn(text, "0123456789") != length)
		return -1;
	return strtol(text, NULL, 10);
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

/* Every descriptor above 2 close-on-exec; close_range where the kernel has it (5.11), else one by one. */
static int cloexec_above_stdio(void)
{
#ifdef CLOSE_RANGE_CLOEXEC
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
#endif
	DIR *dir = opendir("/proc/self/fd");
	if (dir == NULL)
		return -1;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		int fd = atoi(entry->d_name);
		if (fd > 2 && fd != dirfd(dir) && fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
			closedir(dir);
			return -1;
		}
	}
	return closedir(dir);
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
	/* --scope --expect-abi N [--report-fd FD] -- COMMAND...: a fixed order, as the agent writes it. */
	if (argc < 6 || strcmp(argv[1], "--scope") != 0 || strcmp(argv[2], "--expect-abi") != 0)
		fail(2, "%s", USAGE);
	long expected = number(argv[3]);
	int next = 4;
	if (strcmp(argv[next], "--report-fd") == 0 && next + 1 < argc) {
		long fd = number(argv[next + 1]);
		/* A descriptor that is not open would lose the report: a broken chain, not a job to run. */
		if (fd < 0 || fcntl((int)fd, F_GETFD) < 0)
			fail(2, "--report-fd %s: not an open descriptor", argv[next + 1]);
		report_fd = (int)fd;
		next += 2;
	}
	if (expected < 0 || next + 1 >= argc || strcmp(argv[next], "--") != 0)
		fail(2, "%s", USAGE);
	char *const *command = argv + next + 1;

	if (expected >= SCOPE_ABI) {
		/* The agent vouched for the scope at start: nothing here may turn that into running unscoped. */
		long abi = syscall(SYS_LANDLOCK_CREATE_RULESET, NULL, (size_t)0, (uint32_t)LANDLOCK_CREATE_RULESET_VERSION);
		if (abi < 0)
			fail(SCOPE_REFUSED, "landlock_create_ruleset (ABI version): %s; the agent found ABI %ld at start: %s",
			     strerror(errno), expected, REFUSED);
		if (abi < SCOPE_ABI)
			fail(SCOPE_REFUSED, "the kernel reports Landlock ABI %ld; the agent found ABI %ld at start: %s", abi,
			     expected, REFUSED);
		if (scope_abstract_unix_sockets() != 0)
			fail(SCOPE_REFUSED, "%s: %s", failure, REFUSED);
	} else {
		long abi = landlock_abi();
		if (abi < 0 || (abi >= SCOPE_ABI && scope_abstract_unix_sockets() != 0))
			fail(SANDBOX_FAILED, "%s: %s", failure, REFUSED);
	}
	/*
	 * Ignored signals survive exec. The python launcher reset these two (Python
	 * ignores them for itself), so the job always got the defaults, whatever its
	 * parent ignored: `yes | head` dies quietly instead of seeing EPIPE.
	 */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);
	/* Close-on-exec rather than closed: should the exec fail, fail() still reports it there. */
	if (report_fd >= 0 && fcntl(report_fd, F_SETFD, FD_CLOEXEC) != 0)
		fail(SANDBOX_FAILED, "--report-fd %d: %s", report_fd, strerror(errno));
	if (cloexec_above_stdio() != 0)
		fail(SANDBOX_FAILED, "cannot keep inherited descriptors from the job: %s", strerror(errno));
	/* No real-time scheduling, whatever limit the agent was started with: the agent's account tools use it. */
	struct rlimit none = {0, 0};
	if (setrlimit(RLIMIT_RTPRIO, &none) != 0)
		fail(SANDBOX_FAILED, "cannot take real-time priority from the job: %s", strerror(errno));
	exec_like_python(command);
	fail(127, "cannot run %s: %s", command[0], strerror(errno));
}
