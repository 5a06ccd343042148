// The far end of an emulated FTDI console (QEMU usb-serial with a socket
// chardev, qemu-usb-lab.ts): a Unix socket that answers every line the guest
// sends with the SP's prompt, as a console check expects.
import { createServer, type Socket } from 'node:net';

export interface FakeSpConsole {
  /** How many prompts it has sent. */
  prompts: () => number;
  close: () => Promise<void>;
}

/** Listens on `path`; QEMU connects when it starts, so call this first. */
export async function serveFakeSpConsole(path: string, prompt = 'hubris> '): Promise<FakeSpConsole> {
  const sockets = new Set<Socket>();
  let prompts = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // QEMU going away.
    socket.on('data', (chunk) => {
      if (!chunk.includes(0x0d) && !chunk.includes(0x0a)) return;
      prompts += 1;
      socket.write(prompt);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  return {
    prompts: () => prompts,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
