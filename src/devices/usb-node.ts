// The device node of a USB device, as the kernel (devtmpfs) names it.

/** /dev/bus/usb/BBB/DDD: what a job opens. */
export function usbNode(busNumber: number, deviceAddress: number): string {
  return `/dev/bus/usb/${String(busNumber).padStart(3, '0')}/${String(deviceAddress).padStart(3, '0')}`;
}
