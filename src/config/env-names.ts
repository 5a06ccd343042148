// Names a slot's env table or a job's env may set. Two kinds are refused:
// what labslot sets itself (the job's identity, PATH, HOME, ...), and what
// changes how programs load (LD_PRELOAD and friends), which must never be in
// reach of a job even where a privileged program runs before the drop.
import { z } from 'zod';

/** Variables labslot sets for every job. */
const RESERVED = new Set(['HUMILITY_ENVIRONMENT', 'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR']);

/** The dynamic loader's and libc's own variables: a preloaded library runs in every program. */
const LOADER =
  /^(?:LD_|MALLOC_|GLIBC_TUNABLES$|GCONV_PATH$|NLSPATH$|LOCPATH$|HOSTALIASES$|RESOLV_HOST_CONF$|RES_OPTIONS$|TZDIR$)/;

/** What a shell accepts as a variable name. */
export const ENV_NAME_SYNTAX = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const envName = z
  .string()
  .regex(ENV_NAME_SYNTAX, { error: 'is not a valid environment variable name' })
  .refine((k) => !k.startsWith('LABSLOT_') && !RESERVED.has(k), { error: 'is set by labslot itself' })
  .refine((k) => !LOADER.test(k), { error: 'changes how programs are loaded, and jobs may not set it' });
