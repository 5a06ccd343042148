// The states a job goes through, without the drizzle schema around them: the
// command line lists them in its help and checks --state against them, and
// must not load the database layer to do so.
export const JOB_STATES = ['queued', 'leased', 'running', 'cleaning', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
