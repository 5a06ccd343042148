// Tests pick free ports the way the emulated lab does.
export { freePort } from '../../src/emulated-lab/free-port.js';
