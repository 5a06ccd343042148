// Whether something accepts TCP connections on a loopback port: how the lab
// waits for a daemon that cannot say it is ready (pdudaemon, ser2net).
import { connect } from 'node:net';

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
