// Whether a listen or Host name stays on this machine: reads are open there
// (DESIGN §4), and a lab may speak plain HTTP only there.
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
