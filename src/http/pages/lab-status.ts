// What the status page shows of a lab (DESIGN §7): every host's slots, or one
// host's (?host=NAME, "local" for this agent's), the lab's queue per target,
// and the hosts with a link to each one's own page. When the lab's database is
// out of reach, this agent's slots and the reason.
import type { SlotView } from '../../api/slot.js';
import type { TargetQueue } from '../../jobs/queue-summary.js';
import type { LabHost } from '../../lab/lab-hosts.js';
import { labQueueByTarget } from '../../lab/lab-jobs.js';
import type { LabMember } from '../../lab/lab-member.js';
import { labSlotList } from '../lab-slot-routes.js';

export interface LabPageView {
  /** This agent's name. */
  me: string;
  /** Which host the page is filtered to; undefined: all. */
  only: string | undefined;
  hosts: LabHost[];
  /** Why the lab is not shown, when its database is out of reach. */
  problem: string | null;
}

export async function labStatus(
  member: LabMember,
  local: SlotView[],
  only: string | undefined,
): Promise<{ slots: SlotView[]; queues: Map<string, TargetQueue>; lab: LabPageView }> {
  const listed = await labSlotList(member, local, only);
  const base: LabPageView = { me: member.name, only, hosts: [], problem: listed.lab.problem };
  if (!listed.lab.connected) return { slots: listed.slots, queues: new Map(), lab: base };
  const [hosts, queues] = await Promise.all([member.hosts(), labQueueByTarget(member.database())]);
  return {
    slots: listed.slots,
    queues: new Map([...queues].map(([target, q]) => [target, { queued: q.queued, oldestSubmittedAt: q.oldestAt }])),
    lab: { ...base, hosts },
  };
}
