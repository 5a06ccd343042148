// The boot files of the QEMU USB lab (DESIGN §6, shared/notes/usb-emulation.md):
// the uncompressed kernel of Debian's linux-image-amd64 (the cloud kernel has
// no USB and no 9p) for PVH direct boot, and a busybox initramfs with the
// modules needed to mount the host's root over 9p and see USB devices. Built
// once and cached under os.tmpdir(), keyed by kernel version and recipe.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export interface GuestKernel {
  version: string;
  vmlinuz: string;
}

export interface GuestImages {
  kernel: GuestKernel;
  /** The uncompressed ELF kernel (PVH boot: seconds faster than the bzImage). */
  vmlinux: string;
  initramfs: string;
}

/** Loaded by /init on every boot: 9p over virtio, xHCI, the serial drivers. */
const BASE_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'xhci_pci', 'usbserial', 'ftdi_sio', 'cdc_acm'];
/** Loaded when the kernel command line has labslot.dummy_hcd=N: configfs gadgets on N dummy UDCs. */
const GADGET_MODULES = ['dummy_hcd', 'libcomposite', 'usb_f_acm'];

/**
 * The guest kernel: the version linux-image-amd64 depends on (not the host's
 * running kernel), or else the newest non-cloud /boot/vmlinuz-* with modules.
 */
export function findGuestKernel(): GuestKernel | undefined {
  const candidates: string[] = [];
  const query = spawnSync('dpkg-query', ['-W', '-f', '${Depends}', 'linux-image-amd64'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const fromPackage = /linux-image-(\S+)/.exec(query.stdout)?.[1];
  if (query.status === 0 && fromPackage !== undefined) candidates.push(fromPackage);
  try {
    const versions = readdirSync('/boot')
      .map((f) => /^vmlinuz-(.+-amd64)$/.exec(f)?.[1])
      .filter((v): v is string => v !== undefined && !v.includes('cloud'));
    candidates.push(...versions.sort((a, b) => b.localeCompare(a, undefined, { numeric: true })));
  } catch {
    // No /boot: no kernel.
  }
  const version = candidates.find(
    (v) => existsSync(`/boot/vmlinuz-${v}`) && existsSync(`/lib/modules/${v}/modules.dep`),
  );
  return version === undefined ? undefined : { version, vmlinuz: `/boot/vmlinuz-${version}` };
}

/** True when the file is an ELF executable without an interpreter (it runs with no libc around). */
export function isStaticElf(path: string): boolean {
  try {
    const head = readHead(path, 64 * 1024);
    if (head.readUInt32BE(0) !== 0x7f454c46) return false;
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    for (let i = 0; i < phnum; i++) if (head.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } catch {
    return false;
  }
}

function initScript(base: readonly string[], gadget: readonly string[]): string {
  return `#!/bin/busybox sh
# labslot QEMU USB lab, stage 1: load modules, mount the host's root over 9p, switch to it.
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "LABSLOT-INIT-FAILED $*" > /dev/console; echo o > /proc/sysrq-trigger; sleep 30; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
read up _ < /proc/uptime; echo "LABSLOT-INIT $up" > /dev/console
for m in ${base.join(' ')}; do insmod /modules/$m || fail "insmod $m"; done
for arg in $(cat /proc/cmdline); do
  case "$arg" in labslot.dummy_hcd=*) udcs="\${arg#*=}";; esac
done
if [ -n "$udcs" ]; then
  for m in ${gadget.join(' ')}; do
    case "$m" in dummy_hcd.ko) insmod /modules/$m num="$udcs" || fail "insmod $m";; *) insmod /modules/$m || fail "insmod $m";; esac
  done
fi
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /mnt || fail "mount hostroot"
mount -t proc proc /mnt/proc
mount -t sysfs sysfs /mnt/sys
mount -t devtmpfs devtmpfs /mnt/dev
# /run is the guest's own (udev needs it writable); the host's /tmp stays visible: the project may live there.
mount -t tmpfs -o mode=0755 run /mnt/run
mkdir -p /mnt/run/labslot/out /mnt/run/labslot/tsx-cache /mnt/run/labslot/tmp /mnt/run/labslot/home
chmod 1777 /mnt/run/labslot/tmp
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /mnt/run/labslot/out || fail "mount out"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 tsxcache /mnt/run/labslot/tsx-cache 2>/dev/null
exec switch_root /mnt /bin/sh /run/labslot/out/guest.sh
`;
}

/** `.ko` files in load order for the named modules (dependencies first, each once). */
function moduleFiles(version: string, modules: readonly string[], seen: Set<string>): string[] {
  const files: string[] = [];
  for (const module of modules) {
    const plan = execFileSync('modprobe', ['-S', version, '--show-depends', module], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    for (const line of plan.split('\n')) {
      const file = /^insmod (\S+)/.exec(line.trim())?.[1];
      if (file !== undefined && !seen.has(file)) {
        seen.add(file);
        files.push(file);
      }
    }
  }
  return files;
}

/** The offset of the kernel's xz stream in a bzImage. */
function xzOffset(bzImage: Buffer): number {
  const offset = bzImage.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (offset < 0) throw new Error('no xz stream in the kernel image');
  return offset;
}

/** Builds (or finds in the cache) the kernel and initramfs for this kernel version. */
export function guestImages(kernel: GuestKernel): GuestImages {
  const seen = new Set<string>();
  const base = moduleFiles(kernel.version, BASE_MODULES, seen);
  const gadget = moduleFiles(kernel.version, GADGET_MODULES, seen);
  const init = initScript(
    base.map((f) => basename(f)),
    gadget.map((f) => basename(f)),
  );
  const { size, mtimeMs } = statSync(kernel.vmlinuz);
  const key = createHash('sha256').update(`${init}\n${size} ${mtimeMs}`).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `labslot-qemu-usb-${kernel.version}-${key}`);
  const images = { kernel, vmlinux: join(dir, 'vmlinux'), initramfs: join(dir, 'initramfs.cpio') };
  if (existsSync(images.vmlinux) && existsSync(images.initramfs)) return images;

  const work = mkdtempSync(`${dir}.building-`);
  try {
    const bzImage = readFileSync(kernel.vmlinuz);
    const xz = join(work, 'vmlinux.xz');
    writeFileSync(xz, bzImage.subarray(xzOffset(bzImage)));
    // --single-stream: the bzImage goes on after the xz stream; busybox's unxz lacks the x86 BCJ filter.
    const vmlinux = openSync(join(work, 'vmlinux'), 'w');
    try {
      execFileSync('xz', ['-dc', '--single-stream', xz], { stdio: ['ignore', vmlinux, 'pipe'], timeout: 60_000 });
    } finally {
      closeSync(vmlinux);
    }
    rmSync(xz);

    const root = join(work, 'root');
    for (const d of ['bin', 'dev', 'proc', 'sys', 'mnt', 'modules']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
    chmodSync(join(root, 'bin', 'busybox'), 0o755);
    for (const file of [...base, ...gadget]) copyFileSync(file, join(root, 'modules', basename(file)));
    writeFileSync(join(root, 'init'), init, { mode: 0o755 });
    // Uncompressed: the guest unpacks it faster than it could gunzip it under TCG.
    const cpio = spawnSync('sh', ['-c', 'find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0'], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 60_000,
    });
    if (cpio.status !== 0) throw new Error(`cpio failed: ${cpio.stderr.toString()}`);
    writeFileSync(join(work, 'initramfs.cpio'), cpio.stdout);
    rmSync(root, { recursive: true });
    try {
      renameSync(work, dir);
    } catch (error) {
      // Another test process built the same images first.
      if (!existsSync(images.initramfs)) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return images;
}

/** Reads the start of a file without loading it whole. */
function readHead(path: string, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const n = readSync(fd, buffer, 0, length, 0);
    return buffer.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
