// Why a request to an agent got no answer, in an operator's words (the
// system's code in brackets, for a search). Shared by the CLI and the agent's
// own requests to its peers: fetch's TypeError says only "fetch failed" and
// keeps the socket error as its cause; node:http's error is the socket error.

const CONNECTION_FAILURES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused (is the agent running?)',
  ECONNRESET: 'the connection was closed without an answer (ECONNRESET)',
  UND_ERR_SOCKET: 'the connection was closed without a complete answer',
  EPIPE: 'the connection was closed while the request was sent (EPIPE)',
  ETIMEDOUT: 'the connection timed out (ETIMEDOUT)',
  EHOSTUNREACH: "no route to the agent's host (EHOSTUNREACH)",
  ENETUNREACH: "no route to the agent's network (ENETUNREACH)",
  ENOTFOUND: 'its host name does not resolve (ENOTFOUND)',
  EAI_AGAIN: 'its host name could not be resolved now (EAI_AGAIN)',
  // https:// to a plain HTTP listener: OpenSSL's "wrong version number".
  EPROTO: 'it does not speak HTTPS there (EPROTO): is the URL http://?',
};

/** OpenSSL's verification codes that mean "not signed by a CA this client trusts", in its words. */
const UNTRUSTED: Readonly<Record<string, string>> = {
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in chain',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  CERT_UNTRUSTED: 'certificate not trusted',
};

/** Other certificate problems: trusted or not, this certificate is not good for this agent now. */
const BAD_CERTIFICATE: Readonly<Record<string, string>> = {
  ERR_TLS_CERT_ALTNAME_INVALID: "the agent's certificate does not name this host",
  CERT_HAS_EXPIRED: "the agent's certificate has expired",
  CERT_NOT_YET_VALID: "the agent's certificate is not valid yet",
};

function codeOf(error: unknown): string | undefined {
  const { cause, code } = error as { cause?: { code?: string }; code?: string };
  return cause?.code ?? code;
}

/** True when the agent's certificate is not signed by a CA the client trusts: the client needs its CA. */
export function isUntrustedCertificate(error: unknown): boolean {
  return Object.hasOwn(UNTRUSTED, codeOf(error) ?? '');
}

export function describeConnectionFailure(error: unknown): string {
  const code = codeOf(error) ?? '';
  if (Object.hasOwn(UNTRUSTED, code)) return `the agent's certificate is not trusted (${UNTRUSTED[code]})`;
  const known = CONNECTION_FAILURES[code] ?? BAD_CERTIFICATE[code];
  if (known !== undefined) return code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? `${known} (${message(error)})` : known;
  const { cause, code: own } = error as { cause?: { code?: string; message?: string }; code?: string };
  return cause?.code ?? cause?.message ?? own ?? (error as Error).message;
}

function message(error: unknown): string {
  const { cause } = error as { cause?: { message?: string } };
  return cause?.message ?? (error as Error).message;
}
