// Why `labslot demo` could not run: `prerequisite` (not root, a program
// missing, an unusable --dir: the user must change something first, exit 2) or
// `failed` (the lab or the agent did not come up, exit 1).
export class DemoError extends Error {
  override readonly name = 'DemoError';
  constructor(
    message: string,
    readonly kind: 'prerequisite' | 'failed',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
