// Device grants (DESIGN §3.3): a slot's device nodes are re-owned to the
// worker's group with mode 0660 for exactly the job's lifetime. The original
// owner and mode go into the database before the change, so a crash at any
// point leaves enough to restore them.
import { chmod, chown, stat } from 'node:fs/promises';
import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/open-database.js';
import { deviceGrants } from '../db/schema.js';

export interface NodeToGrant {
  device: string;
  path: string;
}

export async function grantDevices(
  db: Db,
  workerId: string,
  gid: number,
  nodes: readonly NodeToGrant[],
): Promise<void> {
  for (const { device, path } of nodes) {
    const before = await stat(path);
    db.insert(deviceGrants)
      .values({ workerId, device, path, origUid: before.uid, origGid: before.gid, origMode: before.mode & 0o7777 })
      .run();
    // Owner stays (root); the worker's group gets read/write, everyone else nothing.
    await chown(path, before.uid, gid);
    await chmod(path, 0o660);
  }
}

/** Restores every grant of the worker not restored yet; a node that is gone (unplugged) needs nothing. */
export async function restoreGrants(db: Db, workerId: string): Promise<void> {
  const open = db
    .select()
    .from(deviceGrants)
    .where(and(eq(deviceGrants.workerId, workerId), isNull(deviceGrants.restoredAt)))
    .all();
  // Newest first: should one node be granted twice, the first grant holds the true original.
  for (const grant of open.reverse()) {
    try {
      await chown(grant.path, grant.origUid, grant.origGid);
      await chmod(grant.path, grant.origMode);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    db.update(deviceGrants).set({ restoredAt: Date.now() }).where(eq(deviceGrants.id, grant.id)).run();
  }
}
