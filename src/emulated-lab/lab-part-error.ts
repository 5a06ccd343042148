// The one error the emulated lab throws: a part (socat, pdudaemon, a network
// namespace) could not be started or stopped. The message names the part.
export class LabPartError extends Error {
  override readonly name = 'LabPartError';
}
