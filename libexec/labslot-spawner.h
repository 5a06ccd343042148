/* What the two halves of labslot-spawner share: labslot-spawner.c (the loop,
 * the protocol, short-lived programs) and labslot-spawner-job.c (jobs). */
#ifndef LABSLOT_SPAWNER_H
#define LABSLOT_SPAWNER_H
#define _GNU_SOURCE
#include <spawn.h>
#include <stdint.h>
#include <sys/types.h>

enum { REQ_SPAWN = 1, REQ_KILL = 2, REQ_JOB = 3, REQ_CLOSE = 4, REQ_SPAWN_RT = 5 };
enum { ANS_OUTPUT = 1, ANS_EXIT = 2, ANS_FAILED = 3, ANS_STARTED = 4, ANS_REPORT = 5, ANS_DONE = 6 };

struct child {
    uint32_t id;
    pid_t pid;
    int job;      /* a job (REQ_JOB) rather than a program (REQ_SPAWN) */
    int exited;   /* reaped; a job stays listed until its pipes are done */
    int out;      /* read end of its output pipe, -1 once closed */
    int report;   /* a job's report pipe (its fd 3), -1 once closed or for a program */
    int file;     /* the output file a capped job's output is relayed into, else -1 */
    uint64_t left; /* bytes a capped job may still write into it */
};

void die(const char *what);
void answer(uint8_t type, uint32_t id, const void *body, uint32_t size);
void answer_int(uint8_t type, uint32_t id, int32_t value);
uint32_t get32(const unsigned char *p);
/* NULL-terminated list of `count` NUL-terminated strings starting at *p, within end; NULL if they are not there. */
char **take_strings(const char **p, const char *end, uint32_t count);
/* posix_spawn, the program looked up in the PATH of envp as Node's spawn does; returns 0 or an errno.
 * realtime: at SCHED_FIFO priority 1 where this host allows it, else as any other. */
int spawn_in_path(pid_t *pid, posix_spawn_file_actions_t *actions, char **argv, char **envp, int realtime);
/* Appends to the list of running children. */
void add_child(struct child c);

/* labslot-spawner-job.c */
void start_job(uint32_t id, const char *body, const char *end);
/* Passes on what is in a job's pipe now (output into its file, a report to the agent); closes it at EOF. */
void relay_job(struct child *c, int *fd);
/* Whether a job is finished: exited, and both its pipes closed (DONE has then been sent). */
int job_done(struct child *c);
/* Stops relaying an exited job's pipes (the agent's drain time is over). */
void close_job(struct child *c);
#endif
