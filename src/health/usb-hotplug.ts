// USB attach/detach notifications. Two sources, either of which triggers the
// monitor's immediate, debounced re-check:
// - libusb's hotplug events (the `usb` package, v2), portable;
// - inotify on /dev/bus/usb (Linux), which the kernel's devtmpfs updates the
//   moment a device goes away, before udev and libusb hear of it. Under load,
//   libusb's event came hundreds of milliseconds after the node was gone, too
//   late for "out of rotation at once" (bench/hotplug measures it).
import { existsSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { usb } from 'usb';

export type HotplugEvent = 'attach' | 'detach' | 'change';

/** Calls `onChange` on every attach or detach; returns the unsubscribe function. */
export type HotplugSource = (onChange: (event: HotplugEvent) => void) => () => void;

export const libusbHotplug: HotplugSource = (onChange) => {
  const onAttach = (): void => onChange('attach');
  const onDetach = (): void => onChange('detach');
  usb.on('attach', onAttach);
  usb.on('detach', onDetach);
  return () => {
    usb.off('attach', onAttach);
    usb.off('detach', onDetach);
  };
};

const DEV_BUS_USB = '/dev/bus/usb';

/** Watches /dev/bus/usb and each bus directory in it; a machine without USB has none and gets no events. */
export function devNodeHotplug(root = DEV_BUS_USB): HotplugSource {
  return (onChange) => {
    if (!existsSync(root)) return () => undefined;
    const watchers = new Map<string, FSWatcher>();
    const watchDir = (dir: string): void => {
      if (watchers.has(dir)) return;
      try {
        const watcher = watch(dir, () => {
          onChange('change');
          // A new bus directory (a controller bound late) gets its own watcher.
          if (dir === root) for (const bus of busDirs(root)) watchDir(bus);
        });
        watcher.on('error', () => {
          watcher.close();
          watchers.delete(dir);
        });
        watchers.set(dir, watcher);
      } catch {
        // Gone between listing and watching: nothing to watch.
      }
    };
    watchDir(root);
    for (const bus of busDirs(root)) watchDir(bus);
    return () => {
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    };
  };
}

function busDirs(root: string): string[] {
  try {
    return readdirSync(root).map((name) => join(root, name));
  } catch {
    return [];
  }
}

/** Both sources: the earliest one wins, the monitor's debounce merges the rest. */
export const usbHotplug: HotplugSource = (onChange) => {
  const stops = [libusbHotplug(onChange), devNodeHotplug()(onChange)];
  return () => {
    for (const stop of stops) stop();
  };
};
