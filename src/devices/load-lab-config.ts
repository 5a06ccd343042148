// Loads slots.toml with the device kinds' rules: what every caller above
// devices/ uses to get a lab model (config/ cannot import the kinds itself).
import { loadConfig, type ConfigOverrides } from '../config/load-config.js';
import type { LabModel } from '../config/lab-model.js';
import { deviceRules } from './device-rules.js';

export function loadLabConfig(file: string, overrides: ConfigOverrides = {}): LabModel {
  return loadConfig(file, deviceRules, overrides);
}
