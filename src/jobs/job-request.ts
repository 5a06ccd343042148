// The body of POST /v1/jobs, validated at the edge: a target or a slot (or
// both), exactly one of argv or script, an env that cannot replace what
// labslot sets, a timeout as a duration string or seconds, Hubris archives as
// paths inside the input.
import { z } from 'zod';
import { parseDuration } from '../config/duration.js';
import { envName } from '../config/env-names.js';
import { parseArchive } from '../config/humility-archive.js';
import { name } from '../config/schema.js';

/** Longest job anyone may ask for; a typo of "10d" must not pin a slot for a month. */
const MAX_TIMEOUT_MS = 7 * 86_400_000;

/** A NUL cannot pass through execve; refuse it here rather than fail the job later. */
const text = (max: number): z.ZodString =>
  z
    .string()
    .max(max)
    .refine((v) => !v.includes('\0'), { error: 'must not contain NUL characters' });

const timeout = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? Math.round(value * 1000) : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0 || ms > MAX_TIMEOUT_MS) {
    ctx.issues.push({
      code: 'custom',
      input: value,
      message: `"${String(value)}" is not a timeout between 1ms and 7d (a duration like "90s", "10m", or seconds)`,
    });
    return z.NEVER;
  }
  return ms;
});

/** One humility target's archive: a path inside the input, or named paths (humility --archive-name). */
const inputArchive = z.unknown().transform((value, ctx) => {
  const parsed = parseArchive(value, 'input');
  if (parsed.ok) return parsed.archive;
  for (const issue of parsed.issues)
    ctx.issues.push({ code: 'custom', input: value, path: issue.path, message: issue.message });
  return z.NEVER;
});

export const jobRequestSchema = z
  .strictObject({
    /** Optional when `slot` names one: the slot's target is implied. */
    target: z.string().trim().min(1, { error: 'name the target (e.g. "gimlet")' }).optional(),
    /** This slot only (same health gate); its target must be `target` when both are given. */
    slot: z.string().trim().min(1, { error: 'name the slot (e.g. "gimlet-1")' }).optional(),
    /** Operator tokens only: run on `slot` although it is held, to debug it; the hold stays. */
    allow_held: z.boolean().default(false),
    argv: z
      .array(text(65_536))
      .min(1, { error: 'argv needs a program' })
      .max(4096)
      // The job's environment is applied by env(1), which would read "A=B" as a variable, not a program.
      .refine((argv) => !(argv[0] ?? '').includes('='), { error: 'the program (argv[0]) must not contain "="' })
      .optional(),
    script: z.string().min(1).max(1_000_000).optional(),
    env: z.record(envName, text(65_536)).default({}),
    timeout: timeout.optional(),
    priority: z.number().int().min(-1000).max(1000).default(0),
    /** An input archive follows with PUT /v1/jobs/:id/input; the job waits for it. */
    input: z.boolean().default(false),
    /** By humility target ("sp", "rot"): replaces the config's archive in HUMILITY_ENVIRONMENT for this job. */
    archives: z.record(name, inputArchive).optional(),
  })
  .refine((r) => r.target !== undefined || r.slot !== undefined, {
    error: 'give "target" (any slot of it) or "slot" (that slot only)',
  })
  .refine((r) => !r.allow_held || r.slot !== undefined, {
    error: '"allow_held" needs "slot": it lets a job run on that one held slot',
    path: ['allow_held'],
  })
  .refine((r) => (r.argv === undefined) !== (r.script === undefined), {
    error: 'give exactly one of "argv" and "script"',
  })
  .refine((r) => r.input || Object.keys(r.archives ?? {}).length === 0, {
    error:
      'archives are files in the job\'s input: submit with "input": true and send them with PUT /v1/jobs/:id/input',
    path: ['archives'],
  });

export type JobRequest = z.output<typeof jobRequestSchema>;
