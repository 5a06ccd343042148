// What the demo prints once its slots are green: where to look, the tokens to
// export, and the next commands, each one copy-pasteable from the directory
// the demo was started in. test/demo.test.ts runs them exactly as printed.
import { realpathSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { DEMO_TARGET } from './demo-config.js';
import { onPath } from './demo-prerequisites.js';

/** Where the first line of the ready block starts; the demo test waits for it. */
export const READY_MARK = 'labslot demo: ready';

export interface DemoInstructions {
  url: string;
  /** How to run labslot from `cwd`: `labslot` when that is this very program, else `node <path>`. */
  program: string;
  cwd: string;
  dir: string;
  keepDir: boolean;
  configFile: string;
  agentLog: string;
  namespace: string;
  pdudaemonUrl: string;
  operatorToken: string;
  submitterToken: string;
  slots: readonly string[];
  readyMs: number;
}

/** `labslot` if PATH finds this same script, otherwise `node` and its path relative to `cwd` (absolute outside it). */
export function labslotCommand(script: string, cwd: string, path = process.env['PATH']): string {
  const real = (file: string): string | undefined => {
    try {
      return realpathSync(file);
    } catch {
      return undefined;
    }
  };
  const found = onPath('labslot', path);
  if (found !== undefined && real(found) === real(script)) return 'labslot';
  const fromCwd = relative(cwd, script);
  return `node ${fromCwd.startsWith('..') || isAbsolute(fromCwd) ? script : fromCwd}`;
}

export function formatInstructions(d: DemoInstructions): string {
  const l = d.program;
  const stopsWith = d.keepDir
    ? `the lab's processes, users and namespace; ${d.dir} stays (config, agent log, state)`
    : `everything: job users, consoles, pdudaemon, namespace ${d.namespace} and ${d.dir}`;
  return `${READY_MARK} in ${(d.readyMs / 1000).toFixed(1)} s: ${d.slots.length} slots of target ${DEMO_TARGET} (${d.slots.join(', ')}), all healthy

  status page   ${d.url}/   (JSON: ${d.url}/v1/slots, Prometheus: ${d.url}/metrics)
  config        ${d.configFile}
  agent log     ${d.agentLog}
  lab           PTY consoles in ${d.dir}/consoles, IPv6 targets in network namespace ${d.namespace}, pdudaemon at ${d.pdudaemonUrl}

In another shell${d.program.startsWith('node ') && !isAbsolute(d.program.slice(5)) ? `, in ${d.cwd}` : ''} (as root, like the demo):

  export LABSLOT_URL=${d.url}
  export LABSLOT_TOKEN=${d.submitterToken}
  export DEMO_OPERATOR_TOKEN=${d.operatorToken}

  # LABSLOT_TOKEN is a submitter token (runs jobs); the operator token holds and releases slots.
  # The slots: health, usage, holds; demo-2 and demo-3 share a PDU outlet, so they conflict.
  ${l} slots
  # A job: it runs as a throwaway user in a sandbox that has only its slot's devices.
  ${l} job run --target ${DEMO_TARGET} -- sh -c 'echo hello from $LABSLOT_SLOT; env | grep ^LABSLOT_DEVICE_; ls -l /dev/labslot'
  # A job that finds its testbed broken: its slot goes on hold, and the job ends as an infrastructure failure.
  ${l} job run --target ${DEMO_TARGET} -- sh -c 'labslot worker mark-broken -m "console wedged on $LABSLOT_SLOT"'
  # The held slot stays out of rotation (HOLD, and who held it and why) until a person releases it.
  ${l} slots
  # Release it with the operator token; it is checked again before its next job.
  ${l} slot release ${d.slots[0] ?? 'demo-1'} -m "checked the cable" --token "$DEMO_OPERATOR_TOKEN"

Ctrl-C stops the agent and removes ${stopsWith}.
`;
}
