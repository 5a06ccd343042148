// Looks up a Unix account through NSS (getent), so LDAP or sssd users work
// like local ones.
import { runProcess } from './run-process.js';

export interface UnixAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export async function lookupUser(name: string, signal?: AbortSignal): Promise<UnixAccount | undefined> {
  const result = await runProcess(['getent', 'passwd', name], { timeoutMs: 5_000, signal });
  if (result.code !== 0) return undefined;
  const [login, , uid, gid, , home] = result.output.trim().split(':');
  if (login !== name || uid === undefined || gid === undefined) return undefined;
  return { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
}
