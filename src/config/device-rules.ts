// What loading a config needs to know about device kinds. The kinds live in
// devices/, above config in the import order (DESIGN §5), so the caller hands
// them in (devices/device-rules.ts) and config itself stays free of any kind.
import type { DeviceSpec } from './schema.js';

export interface RawIssue {
  path: PropertyKey[];
  message: string;
}

export interface DeviceRules {
  /** Issues only the kinds can see, on the raw TOML: one hardware defined twice, command placeholders. */
  rawIssues(raw: unknown): RawIssue[];
  /** The physical hardware a device is part of (slots using one conflict), if it is shared hardware at all. */
  hardwareOf(spec: DeviceSpec): string | undefined;
}
