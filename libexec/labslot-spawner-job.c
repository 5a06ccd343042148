/*
 * Jobs for labslot-spawner (the contract is in labslot-spawner.c). A job is
 * the sandbox chain of src/platform/linux/sandbox.ts. Unlike a program, its
 * output goes to its output file, not to the agent, and what it left behind
 * is not killed at its exit (the sandbox's PID namespace ends it all). With
 * a cap, the job writes into a pipe and this process appends what it reads to
 * the file, up to the cap, then closes the pipe: the job's further writes
 * fail (SIGPIPE, or EPIPE), so the file never holds more than the cap of the
 * job's, however busy the agent is. The job never holds the file itself.
 * This process is the sandbox's parent, so bwrap's --die-with-parent ends
 * the job when it exits, as it did when the agent was the parent.
 */
#include "labslot-spawner.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The sandbox's fd for the launcher's report (SANDBOX_REPORT_FD in sandbox.ts). */
#define REPORT_FD 3
#define NO_CAP UINT64_MAX

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* body: u32 argc | u32 envc | u32 cap low | u32 cap high | cwd NUL | output file NUL | args NUL | env NUL */
void start_job(uint32_t id, const char *body, const char *end) {
    if (end - body < 16) {
        answer_int(ANS_FAILED, id, EINVAL);
        return;
    }
    const unsigned char *u = (const unsigned char *)body;
    uint32_t argc = get32(u), envc = get32(u + 4);
    uint64_t cap = (uint64_t)get32(u + 8) | (uint64_t)get32(u + 12) << 32;
    const char *p = body + 16;
    char **fixed = take_strings(&p, end, 2);
    /* Every string takes at least its NUL: counts beyond the body are a broken request, not an allocation. */
    int fits = (uint64_t)argc + envc <= (uint64_t)(end - p);
    char **argv = fixed == NULL || argc == 0 || !fits ? NULL : take_strings(&p, end, argc);
    char **envp = argv == NULL ? NULL : take_strings(&p, end, envc);
    if (envp == NULL) {
        free(fixed);
        free(argv);
        answer_int(ANS_FAILED, id, EINVAL);
        return;
    }
    const char *cwd = fixed[0], *path = fixed[1];
    int file = -1, out[2] = {-1, -1}, report[2] = {-1, -1};
    int error = 0;
    file = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (file < 0 || pipe2(report, O_CLOEXEC) != 0 || (cap != NO_CAP && pipe2(out, O_CLOEXEC) != 0)) error = errno;
    pid_t pid = -1;
    if (error == 0) {
        int sink = cap == NO_CAP ? file : out[1];
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, sink, 1);
        posix_spawn_file_actions_adddup2(&actions, sink, 2);
        posix_spawn_file_actions_adddup2(&actions, report[1], REPORT_FD);
        if (cwd[0] != '\0') posix_spawn_file_actions_addchdir_np(&actions, cwd);
        error = spawn_in_path(&pid, &actions, argv, envp, 0);
        posix_spawn_file_actions_destroy(&actions);
    }
    free(fixed);
    free(argv);
    free(envp);
    close_fd(&out[1]);
    close_fd(&report[1]);
    if (cap == NO_CAP) close_fd(&file);
    if (error != 0) {
        close_fd(&out[0]);
        close_fd(&report[0]);
        close_fd(&file);
        answer_int(ANS_FAILED, id, error);
        return;
    }
    if (out[0] >= 0) fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(report[0], F_SETFL, O_NONBLOCK);
    add_child((struct child){
        .id = id, .pid = pid, .job = 1, .out = out[0], .report = report[0], .file = file, .left = cap});
    answer_int(ANS_STARTED, id, pid);
}

static int write_file(int fd, const char *data, size_t size) {
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

void relay_job(struct child *c, int *fd) {
    static char buf[65536];
    ssize_t n;
    do n = read(*fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
        close_fd(fd);
        return;
    }
    if (fd == &c->report) {
        answer(ANS_REPORT, c->id, buf, (uint32_t)n);
        return;
    }
    size_t take = (uint64_t)n < c->left ? (size_t)n : (size_t)c->left;
    /* A file that cannot be written (a full disk) ends the relay as the cap does. */
    if (write_file(c->file, buf, take) != 0) c->left = 0;
    else c->left -= take;
    if (c->left == 0) {
        close_fd(fd);
        close_fd(&c->file);
    }
}

int job_done(struct child *c) {
    if (!c->exited || c->out >= 0 || c->report >= 0) return 0;
    close_fd(&c->file);
    answer(ANS_DONE, c->id, NULL, 0);
    return 1;
}

void close_job(struct child *c) {
    if (!c->exited) return;
    close_fd(&c->out);
    close_fd(&c->report);
}
