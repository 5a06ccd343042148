// A lab job's input archive (DESIGN §7): the agent it is submitted to checks
// it (size cap, entries, the Hubris archives it names) and keeps it in the
// lab's database until a host claims the job; that host unpacks it into its
// own job directory inside its claim, and the lab's copy is dropped once the
// claim has committed. It passes through memory and the database whole, so a
// lab's inputs are best kept to tens of MiB.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { ArchiveSummary } from '../jobs/job-archives.js';
import { inputMessage, unpackInput } from '../jobs/job-input.js';
import { jobDir, jobInputDir } from '../jobs/job-paths.js';
import type { JobArchives } from '../jobs/humility-environment.js';
import type { LabDb } from './lab-database.js';
import { QUEUE_CHANNEL } from './lab-jobs.js';
import { labEvents, labJobInputs, labJobs } from './lab-schema.js';

/** Keeps a checked archive for the job; false when the job no longer waits for one (claimed, cancelled, sent twice). */
export async function storeLabInput(
  db: LabDb,
  jobId: string,
  file: string,
  summary: ArchiveSummary,
  by: string,
  via: string,
): Promise<boolean> {
  const archive = await readFile(file);
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(labJobs)
      .set({ input: 'ready' })
      .where(
        and(eq(labJobs.id, jobId), eq(labJobs.input, 'awaiting'), eq(labJobs.state, 'queued'), isNull(labJobs.host)),
      )
      .returning({ target: labJobs.target });
    const target = rows[0]?.target;
    if (target === undefined) return false;
    await tx.insert(labJobInputs).values({ jobId, archive });
    await tx.insert(labEvents).values({
      host: via,
      at: Date.now(),
      type: 'job.input',
      jobId,
      actor: by,
      message: inputMessage(jobId, summary),
    });
    // Now it can be claimed: tell the hosts.
    await tx.execute(sql`SELECT pg_notify(${QUEUE_CHANNEL}, ${target})`);
    return true;
  });
}

/** Inside a claim: the job's archive, unpacked where this host's worker setup mounts it. */
export async function unpackLabInput(
  db: Pick<LabDb, 'select'>,
  stateDir: string,
  jobId: string,
  archives: JobArchives | null,
): Promise<void> {
  const [row] = await db.select().from(labJobInputs).where(eq(labJobInputs.jobId, jobId));
  if (row === undefined) throw new Error(`the lab has no input archive for job ${jobId}`);
  const file = join(jobDir(stateDir, jobId), 'input.tar');
  try {
    await writeFile(file, row.archive, { mode: 0o600 });
    await unpackInput(file, jobInputDir(stateDir, jobId), archives);
  } finally {
    await rm(file, { force: true });
  }
}

/** After the claim committed: the host has its copy. */
export async function dropLabInput(db: LabDb, jobId: string): Promise<void> {
  await db.delete(labJobInputs).where(eq(labJobInputs.jobId, jobId));
}
