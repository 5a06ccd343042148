/*
 * Test-only: runs a command under a seccomp filter that fails one system call
 * with a chosen errno, the way a container runtime's filter or a kernel
 * without the call would:
 *
 *   syscall-errno NR ERRNO -- COMMAND [ARG...]
 *
 * The filter is inherited by everything COMMAND starts, across exec and
 * setuid, so it reaches a launcher deep in the sandbox's chain. Compiled by
 * test/helpers/syscall-errno.ts into the test's temp directory.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
	if (argc < 5 || strcmp(argv[3], "--") != 0) {
		fputs("usage: syscall-errno NR ERRNO -- COMMAND [ARG...]\n", stderr);
		return 2;
	}
	unsigned nr = (unsigned)strtoul(argv[1], NULL, 10);
	unsigned error = (unsigned)strtoul(argv[2], NULL, 10);
	/*
	 * Only the number is compared, not the architecture: the test runs native
	 * binaries, and Landlock's numbers are the same on every architecture.
	 */
	struct sock_filter program[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (error & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog filter = { .len = sizeof program / sizeof program[0], .filter = program };
	/* Root may install a filter without no_new_privs; anyone else needs it. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter) != 0) {
		if (errno != EACCES || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter) != 0) {
			perror("syscall-errno: seccomp");
			return 2;
		}
	}
	execvp(argv[4], argv + 4);
	perror("syscall-errno: exec");
	return 127;
}
