/*
 * labslot-spawner: starts the agent's short-lived programs (device checks,
 * useradd, nft, mkfs, ...) so the agent does not have to.
 *
 * Why: Node starts a program by forking the whole agent (about 100 MB) and
 * waiting until the child has exec'd. Each such start costs about 2 ms of CPU
 * in the agent and its child, and blocks the agent's event loop for all of it:
 * at 64 command checks per interval, and about ten programs per job lease,
 * that was the agent's largest cost. This small process starts programs with
 * posix_spawn (a vfork-like clone, no page tables copied) and relays what they
 * print, so the agent only writes and reads a few bytes per program.
 *
 * Contract (src/platform/spawner-client.ts is the other side). All integers
 * are little-endian. Every frame, both ways, is
 *     u32 length (of what follows) | u8 type | u32 id | body
 * Requests, on stdin:
 *   1 SPAWN  body: u32 argc | u32 envc | cwd NUL | argc args NUL | envc "K=V" NUL
 *            (an empty cwd keeps this process's). The program is looked up in
 *            the PATH of the given environment, as Node's spawn does. It runs
 *            in a session of its own (a process group to kill), stdin
 *            /dev/null, stdout and stderr both into one pipe, every signal at
 *            its default and none blocked.
 *   2 KILL   SIGKILL to the program's process group, if it has not exited.
 *   3 JOB    body: u32 argc | u32 envc | u64 cap (all ones: none) | cwd NUL |
 *            output file NUL | args NUL | env NUL. A job's sandbox chain
 *            (labslot-spawner-job.c): stdout and stderr appended to the
 *            output file, through this process when capped; its fd 3 a
 *            pipe whose bytes come back as REPORT.
 *   4 CLOSE  stop relaying an exited job's pipes (the agent waited enough).
 *   5 SPAWN_RT as SPAWN, for a program that takes a lock the whole host
 *            queues on (useradd's on /etc/passwd): it runs at real-time
 *            priority (SCHED_FIFO 1), so it is not preempted while it holds
 *            the lock by the very work that waits for it. Where the host
 *            refuses that (no CAP_SYS_NICE, no real-time budget in this
 *            cgroup), it runs as SPAWN would.
 * Answers, on stdout:
 *   1 OUTPUT body: bytes the program (or its group) printed.
 *   2 EXIT   body: i32 wait status. The program's group is killed once the
 *            program has exited, as the agent always did: children it left
 *            behind would otherwise hold the pipe open. What they printed
 *            before that is sent first.
 *   3 FAILED body: i32 errno. The program could not be started.
 *   4 STARTED body: i32 pid. A job runs.
 *   5 REPORT body: bytes a job's sandbox wrote to its fd 3.
 * For a job, EXIT comes when its first process has exited (nothing is
 * killed), then 6 DONE (no body) once its pipes are at end-of-file or closed.
 * At EOF on stdin (the agent stopped or died) it exits without killing the
 * programs it started: a useradd killed half-way would leave /etc/passwd
 * locked for the next start. Their output pipes close with it, so one that
 * writes again dies of SIGPIPE. Jobs end with the agent, as they always did:
 * each is killed (its bwrap's --die-with-parent takes the rest), and what
 * their pipes still hold is written to their files first (finish_jobs).
 * It ignores the terminal's signals (the agent is asked to stop, and stops
 * it), so Ctrl-C on a foreground agent cannot orphan what it runs. Programs
 * get every signal at its default, except the two real-time signals glibc
 * keeps for itself (32 and 33), which its posix_spawn leaves ignored.
 */
#include "labslot-spawner.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* A request longer than this is a broken agent, not a command line. */
#define MAX_FRAME (64u << 20)
#define HEADER 9u

static struct child *children;
static size_t nchildren, capchildren;
static int wake[2] = {-1, -1};

void die(const char *what) {
    fprintf(stderr, "labslot-spawner: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void on_sigchld(int sig) {
    (void)sig;
    int saved = errno;
    ssize_t ignored = write(wake[1], "c", 1);
    (void)ignored;
    errno = saved;
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = v & 0xff;
    p[1] = (v >> 8) & 0xff;
    p[2] = (v >> 16) & 0xff;
    p[3] = (v >> 24) & 0xff;
}

uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void write_all(const void *data, size_t size) {
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(1, p, size);
        if (n < 0 && errno == EINTR) continue;
        /* The agent is gone: nobody is left to answer. */
        if (n < 0) exit(errno == EPIPE ? 0 : 2);
        p += n;
        size -= (size_t)n;
    }
}

/* Set once the agent is gone: what is left is finishing the jobs' output files, with nobody to tell. */
static int agent_gone;

void answer(uint8_t type, uint32_t id, const void *body, uint32_t size) {
    if (agent_gone) return;
    unsigned char head[HEADER];
    put32(head, size + 5);
    head[4] = type;
    put32(head + 5, id);
    write_all(head, sizeof head);
    if (size > 0) write_all(body, size);
}

void answer_int(uint8_t type, uint32_t id, int32_t value) {
    unsigned char body[4];
    put32(body, (uint32_t)value);
    answer(type, id, body, sizeof body);
}

/*
 * Relays one read of what is in the pipe now, or, at the program's exit, what
 * is in it at that moment (FIONREAD): a writer it left outside its group could
 * otherwise keep this loop, and every other program, waiting forever.
 * At EOF (or a read error) closes it.
 */
static void relay(struct child *c, int at_exit) {
    static char buf[65536];
    int pending = 0;
    if (at_exit && ioctl(c->out, FIONREAD, &pending) != 0) pending = 0;
    for (;;) {
        size_t want = sizeof buf;
        if (at_exit && (size_t)pending < want) want = (size_t)pending;
        if (at_exit && want == 0) return;
        ssize_t n = read(c->out, buf, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            close(c->out);
            c->out = -1;
            return;
        }
        answer(ANS_OUTPUT, c->id, buf, (uint32_t)n);
        if (!at_exit) return;
        pending -= (int)n;
    }
}

char **take_strings(const char **p, const char *end, uint32_t count) {
    char **list = calloc((size_t)count + 1, sizeof *list);
    if (list == NULL) die("out of memory");
    for (uint32_t i = 0; i < count; i++) {
        const char *nul = memchr(*p, '\0', (size_t)(end - *p));
        if (nul == NULL) {
            free(list);
            return NULL;
        }
        list[i] = (char *)*p;
        *p = nul + 1;
    }
    return list;
}

/* Set once the host refused real-time priority: no use asking again for every program. */
static int realtime_refused;

/* Its own session (a process group to kill), every signal at its default and none blocked. */
static int spawn_at(pid_t *pid, const char *path, posix_spawn_file_actions_t *actions, char **argv, char **envp,
                    int realtime) {
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&attr, &none);
    /* This process ignores SIGPIPE; its programs must not inherit that. */
    posix_spawnattr_setsigdefault(&attr, &all);
    short flags = POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (realtime && !realtime_refused) {
        struct sched_param param = {.sched_priority = 1};
        posix_spawnattr_setschedpolicy(&attr, SCHED_FIFO);
        posix_spawnattr_setschedparam(&attr, &param);
        flags |= POSIX_SPAWN_SETSCHEDULER;
    }
    posix_spawnattr_setflags(&attr, flags);
    int error = posix_spawn(pid, path, actions, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    /*
     * The child failed before or at its exec, so nothing ran: run it as any other. Only when that works was
     * it the priority that was refused (exec itself can fail with EPERM or EINVAL too); then no more asking.
     */
    if ((flags & POSIX_SPAWN_SETSCHEDULER) && (error == EPERM || error == EINVAL)) {
        int plain = spawn_at(pid, path, actions, argv, envp, 0);
        if (plain == 0) {
            realtime_refused = 1;
            fprintf(stderr, "labslot-spawner: real-time priority refused (%s); account tools run at normal priority\n",
                    strerror(error));
        }
        return plain;
    }
    return error;
}

/* posix_spawnp would search this process's PATH; Node's spawn searches the child's. */
int spawn_in_path(pid_t *pid, posix_spawn_file_actions_t *actions, char **argv, char **envp, int realtime) {
    const char *program = argv[0];
    if (program[0] == '\0') return ENOENT;
    if (strchr(program, '/') != NULL) return spawn_at(pid, program, actions, argv, envp, realtime);
    /* libuv's default, when the environment has no PATH. */
    const char *path = "/usr/bin:/bin";
    for (char **e = envp; *e != NULL; e++)
        if (strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
    int result = ENOENT;
    size_t plen = strlen(program);
    for (const char *dir = path;; dir++) {
        const char *colon = strchrnul(dir, ':');
        size_t dlen = (size_t)(colon - dir);
        char *candidate = malloc(dlen + plen + 3);
        if (candidate == NULL) die("out of memory");
        /* An empty entry is the working directory, as in every shell. */
        if (dlen == 0) strcpy(candidate, ".");
        else memcpy(candidate, dir, dlen), candidate[dlen] = '\0';
        strcat(candidate, "/");
        strcat(candidate, program);
        int error = access(candidate, X_OK) == 0 ? spawn_at(pid, candidate, actions, argv, envp, realtime) : errno;
        /* As libuv does: on to the next entry past what is missing or not executable (a directory). */
        if (error != ENOENT && error != ENOTDIR && error != EACCES) {
            free(candidate);
            return error;
        }
        if (error == EACCES) result = EACCES;
        free(candidate);
        dir = colon;
        if (*dir == '\0') break;
    }
    return result;
}

static void start(uint32_t id, const char *body, const char *end, int realtime) {
    if (end - body < 8) {
        answer_int(ANS_FAILED, id, EINVAL);
        return;
    }
    uint32_t argc = get32((const unsigned char *)body);
    uint32_t envc = get32((const unsigned char *)body + 4);
    const char *p = body + 8;
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    /* Every string takes at least its NUL: counts beyond the body are a broken request, not an allocation. */
    if (argc == 0 || nul == NULL || (uint64_t)argc + envc > (uint64_t)(end - body)) {
        answer_int(ANS_FAILED, id, EINVAL);
        return;
    }
    const char *cwd = p;
    p = nul + 1;
    char **argv = take_strings(&p, end, argc);
    char **envp = argv == NULL ? NULL : take_strings(&p, end, envc);
    if (envp == NULL) {
        free(argv);
        answer_int(ANS_FAILED, id, EINVAL);
        return;
    }

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        int error = errno;
        free(argv);
        free(envp);
        answer_int(ANS_FAILED, id, error);
        return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    /* dup2 clears close-on-exec on 1 and 2; both pipe ends themselves close at exec. */
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
    if (cwd[0] != '\0') posix_spawn_file_actions_addchdir_np(&actions, cwd);
    pid_t pid = -1;
    int error = spawn_in_path(&pid, &actions, argv, envp, realtime);
    posix_spawn_file_actions_destroy(&actions);
    free(argv);
    free(envp);
    close(pipefd[1]);
    if (error != 0) {
        close(pipefd[0]);
        answer_int(ANS_FAILED, id, error);
        return;
    }
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    add_child((struct child){.id = id, .pid = pid, .out = pipefd[0], .report = -1, .file = -1});
}

void add_child(struct child c) {
    if (nchildren == capchildren) {
        capchildren = capchildren == 0 ? 16 : capchildren * 2;
        children = realloc(children, capchildren * sizeof *children);
        if (children == NULL) die("out of memory");
    }
    children[nchildren++] = c;
}

static struct child *find(uint32_t id) {
    for (size_t i = 0; i < nchildren; i++)
        if (children[i].id == id) return &children[i];
    return NULL;
}

static void kill_group(uint32_t id) {
    struct child *c = find(id);
    /* Not reaped yet (that happens only in reap()), so the pid is still this program's group. */
    if (c != NULL && !c->exited) kill(-c->pid, SIGKILL);
}

/* Drops finished jobs from the list (their DONE sent). */
static void drop_done_jobs(void) {
    for (size_t i = 0; i < nchildren;) {
        if (children[i].job && job_done(&children[i])) children[i] = children[--nchildren];
        else i++;
    }
}

/*
 * Finds exited programs without reaping them first (WNOWAIT): while the zombie
 * holds its pid, the group id cannot have been reused, so killing the group
 * kills only what the program left behind.
 */
static void reap(void) {
    for (size_t i = 0; i < nchildren;) {
        struct child *c = &children[i];
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (c->exited || waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
            info.si_pid != c->pid) {
            i++;
            continue;
        }
        /* A job's leftovers die with its PID namespace; its pipes are relayed until end-of-file. */
        if (!c->job) kill(-c->pid, SIGKILL);
        int status = 0;
        while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (c->job) {
            c->exited = 1;
            answer_int(ANS_EXIT, c->id, status);
            i++;
            continue;
        }
        if (c->out >= 0) relay(c, 1);
        if (c->out >= 0) {
            close(c->out);
            c->out = -1;
        }
        answer_int(ANS_EXIT, c->id, status);
        children[i] = children[--nchildren];
    }
}

static void handle(const unsigned char *frame, uint32_t size) {
    uint8_t type = frame[0];
    uint32_t id = get32(frame + 1);
    const char *body = (const char *)frame + 5, *end = (const char *)frame + size;
    if (type == REQ_SPAWN || type == REQ_SPAWN_RT) start(id, body, end, type == REQ_SPAWN_RT);
    else if (type == REQ_JOB) start_job(id, body, end);
    else if (type == REQ_KILL) kill_group(id);
    else if (type == REQ_CLOSE) {
        struct child *c = find(id);
        if (c != NULL && c->job) close_job(c);
    } else {
        fprintf(stderr, "labslot-spawner: unknown request type %u\n", type);
        exit(2);
    }
}

/*
 * The agent is gone: kill each job (bwrap's monitor; its --die-with-parent ends
 * the sandbox), then relay what their pipes still hold into their output files,
 * the last lines a user wants, for at most two seconds.
 */
static void finish_jobs(void) {
    agent_gone = 1;
    for (size_t i = 0; i < nchildren; i++)
        if (children[i].job && !children[i].exited) kill(children[i].pid, SIGKILL);
    struct pollfd *fds = calloc(2 * nchildren + 1, sizeof *fds);
    if (fds == NULL) return;
    for (int round = 0; round < 200; round++) {
        size_t open = 0;
        for (size_t i = 0; i < nchildren; i++) {
            fds[2 * i] = (struct pollfd){.fd = children[i].job ? children[i].out : -1, .events = POLLIN};
            fds[2 * i + 1] = (struct pollfd){.fd = children[i].job ? children[i].report : -1, .events = POLLIN};
            open += (fds[2 * i].fd >= 0) + (fds[2 * i + 1].fd >= 0);
        }
        if (open == 0 || poll(fds, 2 * nchildren, 10) < 0) break;
        for (size_t i = 0; i < nchildren; i++) {
            if (fds[2 * i].fd >= 0 && fds[2 * i].revents != 0) relay_job(&children[i], &children[i].out);
            if (fds[2 * i + 1].fd >= 0 && fds[2 * i + 1].revents != 0) relay_job(&children[i], &children[i].report);
        }
    }
    free(fds);
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
        /* The agent asks once whether this binary runs on this host at all. */
        puts("labslot-spawner 2");
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: labslot-spawner (requests on stdin, answers on stdout; see its source)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Not ours to act on: the agent stops this process by closing its stdin. */
    /* SIGXFSZ too: a file-size limit reached by a job's output file is the end of that relay (EFBIG), not of all. */
    const int terminal[] = {SIGINT, SIGQUIT, SIGHUP, SIGTSTP, SIGTTIN, SIGTTOU, SIGXFSZ};
    for (size_t i = 0; i < sizeof terminal / sizeof terminal[0]; i++) signal(terminal[i], SIG_IGN);
    if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) die("pipe");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL) != 0) die("sigaction");
    fcntl(0, F_SETFD, FD_CLOEXEC);
    fcntl(1, F_SETFD, FD_CLOEXEC);
#ifdef CLOSE_RANGE_CLOEXEC
    /* Whatever else it was handed (an fd the agent leaked without close-on-exec) never reaches a program or job. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
#endif

    unsigned char *in = NULL;
    size_t have = 0, cap = 0;
    struct pollfd *fds = NULL;
    for (;;) {
        drop_done_jobs();
        fds = realloc(fds, (2 * nchildren + 2) * sizeof *fds);
        if (fds == NULL) die("out of memory");
        fds[0] = (struct pollfd){.fd = 0, .events = POLLIN};
        fds[1] = (struct pollfd){.fd = wake[0], .events = POLLIN};
        size_t polled = nchildren;
        for (size_t i = 0; i < polled; i++) {
            fds[2 * i + 2] = (struct pollfd){.fd = children[i].out, .events = POLLIN};
            fds[2 * i + 3] = (struct pollfd){.fd = children[i].report, .events = POLLIN};
        }
        if (poll(fds, 2 * polled + 2, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        /* Output first, while the children array still matches fds. */
        for (size_t i = 0; i < polled; i++) {
            struct child *c = &children[i];
            if (fds[2 * i + 2].fd >= 0 && fds[2 * i + 2].revents != 0) {
                if (c->job) relay_job(c, &c->out);
                else relay(c, 0);
            }
            if (fds[2 * i + 3].fd >= 0 && fds[2 * i + 3].revents != 0) relay_job(c, &c->report);
        }
        if (fds[1].revents != 0) {
            char drain[64];
            while (read(wake[0], drain, sizeof drain) > 0) {
            }
            reap();
        }
        if (fds[0].revents != 0) {
            if (cap - have < 65536) {
                cap = cap == 0 ? 65536 : cap * 2;
                in = realloc(in, cap);
                if (in == NULL) die("out of memory");
            }
            ssize_t n = read(0, in + have, cap - have);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                finish_jobs();
                return 0;
            }
            have += (size_t)n;
            size_t used = 0;
            while (have - used >= 4) {
                uint32_t size = get32(in + used);
                if (size < 5 || size > MAX_FRAME) {
                    fprintf(stderr, "labslot-spawner: bad frame length %u\n", size);
                    return 2;
                }
                if (have - used - 4 < size) break;
                handle(in + used + 4, size);
                used += 4 + size;
            }
            memmove(in, in + used, have - used);
            have -= used;
        }
    }
}
