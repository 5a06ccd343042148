#!/usr/bin/env node
// Part of `npm run build`: compiles libexec/labslot-landlock.c into
// dist/libexec/labslot-landlock, which jobs then run instead of the python3
// launcher (src/platform/linux/landlock.ts picks whichever is there). A host
// without a C compiler, or one that cannot compile it, still builds: jobs keep
// the python3 launcher.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../libexec/labslot-landlock.c', import.meta.url));
const target = fileURLToPath(new URL('../dist/libexec/labslot-landlock', import.meta.url));
const cc = process.env.CC || 'cc';
const FLAGS = ['-O2', '-Wall', '-Wextra', '-Werror'];

if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).error !== undefined) {
  // A launcher left by an earlier build would be run in place of the source it no longer matches.
  rmSync(target, { force: true });
  console.log(`build-landlock: no C compiler (${cc}): jobs will use the python3 Landlock launcher`);
  process.exit(0);
}

mkdirSync(dirname(target), { recursive: true });
// Written beside and renamed: the agent picks the launcher by its existence, so never a half-written one.
const partial = `${target}.partial`;
const compile = (extra) =>
  spawnSync(cc, [...FLAGS, ...extra, '-o', partial, source], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
// Static when the host has a static libc (Debian's libc6-dev does): no dynamic loader at each job's start.
let result = compile(['-static']);
if (result.status !== 0) result = compile([]);
if (result.status !== 0) {
  // A compiler without libc's headers (gcc without libc6-dev) is a host without a usable one: the build goes on
  // with python3, as without a compiler, and says why. CI's tests (CI=true) fail without the native launcher.
  rmSync(partial, { force: true });
  rmSync(target, { force: true });
  console.error(
    `build-landlock: ${cc} could not compile ${source}; jobs will use the python3 Landlock launcher:\n${result.stdout}${result.stderr}`,
  );
  process.exit(0);
}
// Run inside the sandbox as the worker, not as the user who built it.
chmodSync(partial, 0o755);
renameSync(partial, target);
