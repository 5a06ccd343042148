// Commander actions cannot return an exit code, so each one sets it here.
export interface CommandResult {
  code: number;
}
