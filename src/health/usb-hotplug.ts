// USB attach/detach notifications from libusb (the `usb` package, v2). The
// monitor re-checks the affected devices at once instead of waiting for the
// next interval, so an unplugged probe leaves rotation within a second.
import { usb } from 'usb';

/** Calls `onChange` on every attach or detach; returns the unsubscribe function. */
export type HotplugSource = (onChange: (event: 'attach' | 'detach') => void) => () => void;

export const usbHotplug: HotplugSource = (onChange) => {
  const onAttach = (): void => onChange('attach');
  const onDetach = (): void => onChange('detach');
  usb.on('attach', onAttach);
  usb.on('detach', onDetach);
  return () => {
    usb.off('attach', onAttach);
    usb.off('detach', onDetach);
  };
};
