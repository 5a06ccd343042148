// Why a lab request cannot be served: the shared database is out of reach, or
// the host that owns a job or slot is. Both are answered 503: try again later.
export class LabUnavailableError extends Error {
  override readonly name = 'LabUnavailableError';
}

export class HostOfflineError extends Error {
  override readonly name = 'HostOfflineError';
}

/** Two agents claim one name or one slot: the second refuses to join the lab. */
export class LabMembershipError extends Error {
  override readonly name = 'LabMembershipError';
}
