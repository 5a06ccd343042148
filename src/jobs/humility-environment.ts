// HUMILITY_ENVIRONMENT (DESIGN §3): the JSON file that lets a job run
// `humility -t sp ...` without knowing serial numbers or archive paths.
// humility-cli/src/env.rs reads it as an object keyed by target name whose
// entries have exactly `probe` ("vid:pid:serial"), a required `archive` (a
// path, or named paths picked with --archive-name), and optional
// `description` and `cmds`; any other field is refused (deny_unknown_fields).
// humility parses the whole file whatever target it is asked for, and even
// with no target at all, so one entry without an archive would break every
// humility command in the job: such a probe is left out, and the job is told.
import { lstat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { LabModel, SlotModel } from '../config/lab-model.js';
import { archivePaths, mapArchive, type HumilityArchive } from '../config/humility-archive.js';
import { humilityProbe } from '../devices/humility-probe.js';
import { INPUT_IN_JOB } from './job-paths.js';

/** Archives a submission names, by humility target; paths are relative to the job's input. */
export type JobArchives = Readonly<Record<string, HumilityArchive>>;

export interface HumilityProbe {
  /** The target name in the file: "sp", "rot", or the device's own name. */
  name: string;
  device: string;
  /** vid:pid:serial, as humility's --probe takes it. */
  probe: string;
  /** From the config; host paths. */
  archive: HumilityArchive | undefined;
}

/** One entry, with only fields humility accepts. */
export interface HumilityEntry {
  probe: string;
  archive: HumilityArchive;
  description: string;
}

export interface HumilityFile {
  entries: Record<string, HumilityEntry>;
  /** Probes with no archive from the config or the job: not in the file (humility would refuse it whole). */
  leftOut: HumilityProbe[];
}

/**
 * The slot's probes as humility targets, in the slot's device order: an SP
 * probe is "sp", an RoT probe "rot", any other probe (or a second SP probe)
 * goes by its device name. Devices with role "other" are not probes.
 */
export function humilityProbes(lab: LabModel, slot: SlotModel): HumilityProbe[] {
  const probes: HumilityProbe[] = [];
  for (const device of slot.devices) {
    const spec = lab.devices.get(device)?.spec;
    const probe = spec !== undefined ? humilityProbe(spec) : undefined;
    if (probe === undefined) continue;
    const byRole = probe.role === 'sp-probe' ? 'sp' : probe.role === 'rot-probe' ? 'rot' : device;
    const name = probes.some((p) => p.name === byRole) ? device : byRole;
    probes.push({ name, device, probe: probe.probe, archive: probe.archive });
  }
  return probes;
}

/** Every humility target name some slot of `target` has: what a submission's archives may name. */
export function humilityNames(lab: LabModel, target: string): string[] {
  const names = new Set<string>();
  for (const slotName of lab.targets.get(target) ?? []) {
    const slot = lab.slots.get(slotName);
    if (slot) for (const probe of humilityProbes(lab, slot)) names.add(probe.name);
  }
  return [...names].sort();
}

/**
 * The file's content. A job's archive for a target replaces the config's for
 * it, and points into the input as the job sees it (/input/...).
 */
export function humilityEnvironment(
  lab: LabModel,
  slot: SlotModel,
  jobArchives: JobArchives | null = null,
): HumilityFile {
  const file: HumilityFile = { entries: {}, leftOut: [] };
  for (const probe of humilityProbes(lab, slot)) {
    const submitted = jobArchives?.[probe.name];
    const archive =
      submitted === undefined ? probe.archive : mapArchive(submitted, (path) => posix.join(INPUT_IN_JOB, path));
    if (archive === undefined) file.leftOut.push(probe);
    else file.entries[probe.name] = { probe: probe.probe, archive, description: `${slot.name} ${probe.device}` };
  }
  return file;
}

/** What the job's output says first about probes left out, one line each; empty when none was. */
export function leftOutNote(leftOut: readonly HumilityProbe[]): string {
  return leftOut
    .map(
      (p) =>
        `labslot: HUMILITY_ENVIRONMENT has no "${p.name}" entry (probe ${p.device}, ${p.probe}): humility refuses an entry without an archive, ` +
        `and none is configured ([devices.${p.device}] archive) or submitted (labslot job run --input DIR --archive ${p.name}=PATH)\n`,
    )
    .join('');
}

/**
 * What is wrong with the archives a job named, now that its input is
 * extracted in `inputDir`: each must be a regular file there. Empty when all are.
 */
export async function archivesMissingFromInput(inputDir: string, archives: JobArchives | null): Promise<string[]> {
  const problems: string[] = [];
  for (const [target, archive] of Object.entries(archives ?? {})) {
    for (const { name, path } of archivePaths(archive)) {
      const where = `archives.${target}${name === undefined ? '' : `.${name}`}`;
      let kind: string;
      try {
        const info = await lstat(join(inputDir, path));
        kind = info.isFile() ? 'file' : info.isDirectory() ? 'a directory' : 'not a regular file';
      } catch {
        kind = 'missing';
      }
      if (kind === 'missing') problems.push(`${where}: "${path}" is not in the input`);
      else if (kind !== 'file') problems.push(`${where}: "${path}" is ${kind}, not an archive file`);
    }
  }
  return problems;
}
