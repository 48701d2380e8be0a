/**
 * How every Darkroom process reaches Temporal — the workers (NativeConnection), the CLI and the
 * reviewer tool (Connection) — built from one configuration: a local dev server in plain text,
 * a self-hosted cluster with mTLS, or Temporal Cloud with an API key. The variable names are the
 * temporal CLI's, so one environment serves both tools.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import type { Config } from '../domain/config';

/** The configuration a connection is built from. */
export type TemporalConnectionConfig = Pick<
  Config,
  | 'TEMPORAL_ADDRESS'
  | 'TEMPORAL_NAMESPACE'
  | 'TEMPORAL_TLS'
  | 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'
  | 'TEMPORAL_TLS_CLIENT_CERT_PATH'
  | 'TEMPORAL_TLS_CLIENT_KEY_PATH'
  | 'TEMPORAL_TLS_SERVER_NAME'
  | 'TEMPORAL_API_KEY'
  | 'TEMPORAL_TLS_SERVER_CA_CERT_DATA'
  | 'TEMPORAL_TLS_CLIENT_CERT_DATA'
  | 'TEMPORAL_TLS_CLIENT_KEY_DATA'
>;

/** What both `Connection.connect` and `NativeConnection.connect` take. */
export interface TemporalConnectionOptions {
  address: string;
  /** Absent: plain text (the local dev server). */
  tls?: TLSConfig;
  /** Sent as `Authorization: Bearer …`. A secret. */
  apiKey?: string;
}

/** A TLS setting that cannot be used: a file that cannot be read or is not what it should be, or a half-set pair. */
export class TemporalTlsConfigError extends Error {
  override readonly name = 'TemporalTlsConfigError';
  constructor(
    message: string,
    /** The environment variable at fault. */
    readonly variable: string,
    /** The file it names, when it names one. */
    readonly path?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The namespace is not on the server the connection reached. */
export class NamespaceNotFoundError extends Error {
  override readonly name = 'NamespaceNotFoundError';
  constructor(readonly namespace: string, readonly address: string, options?: ErrorOptions) {
    super(
      `namespace ${namespace} does not exist on ${address}; create it with ` +
        `"temporal operator namespace create --namespace ${namespace}" or set TEMPORAL_NAMESPACE to one that exists`,
      options,
    );
  }
}

/** The server answered, and refused who this client says it is (a wrong or expired API key). */
export class TemporalAuthError extends Error {
  override readonly name = 'TemporalAuthError';
}

const PEM_KINDS = {
  certificate: { marker: /-----BEGIN CERTIFICATE-----/, what: 'a PEM certificate (-----BEGIN CERTIFICATE-----)' },
  key: { marker: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, what: 'a PEM private key (-----BEGIN … PRIVATE KEY-----)' },
} as const;

/** Reads a PEM file named by `variable`, or says clearly why it cannot be used. */
export function readPemFile(variable: string, file: string, kind: keyof typeof PEM_KINDS): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' :
      code === 'EACCES' || code === 'EPERM' ? 'permission denied (the process cannot read it)' :
      code === 'EISDIR' ? 'it is a directory, not a file' :
      (err as Error).message;
    throw new TemporalTlsConfigError(`${variable}: cannot read ${file}: ${why}`, variable, file, { cause: err });
  }
  if (!PEM_KINDS[kind].marker.test(bytes.toString('latin1'))) {
    throw new TemporalTlsConfigError(`${variable}: ${file} is not ${PEM_KINDS[kind].what}`, variable, file);
  }
  return bytes;
}

type PemBase = 'TEMPORAL_TLS_SERVER_CA_CERT' | 'TEMPORAL_TLS_CLIENT_CERT' | 'TEMPORAL_TLS_CLIENT_KEY';

/** Where one PEM comes from: a file (`…_PATH`) or the variable's own text (`…_DATA`). */
interface PemSource {
  variable: string;
  path?: string;
  data?: string;
}

function pemSource(config: TemporalConnectionConfig, base: PemBase): PemSource | undefined {
  const path = config[`${base}_PATH`];
  const data = config[`${base}_DATA`];
  if (path && data) throw new TemporalTlsConfigError(`${base}_PATH and ${base}_DATA are both set; set one of them`, `${base}_DATA`);
  if (path) return { variable: `${base}_PATH`, path };
  if (data) return { variable: `${base}_DATA`, data };
  return undefined;
}

function readPem(source: PemSource, kind: keyof typeof PEM_KINDS): Uint8Array {
  if (source.path !== undefined) return readPemFile(source.variable, source.path, kind);
  // The text itself is never echoed: it may be a private key.
  if (!PEM_KINDS[kind].marker.test(source.data ?? '')) throw new TemporalTlsConfigError(`${source.variable} is not ${PEM_KINDS[kind].what}`, source.variable);
  return new TextEncoder().encode(source.data);
}

/**
 * The connection options for `config`. TLS is on when TEMPORAL_TLS=true, or when it is unset and
 * an API key or any TLS setting is given (as with the temporal CLI); TEMPORAL_TLS=false with those
 * set is refused rather than silently sending a key in plain text.
 */
export function temporalConnectionOptions(config: TemporalConnectionConfig): TemporalConnectionOptions {
  const ca = pemSource(config, 'TEMPORAL_TLS_SERVER_CA_CERT');
  const cert = pemSource(config, 'TEMPORAL_TLS_CLIENT_CERT');
  const key = pemSource(config, 'TEMPORAL_TLS_CLIENT_KEY');
  if (Boolean(cert) !== Boolean(key)) {
    const [set, missing] = cert ? [cert.variable, 'TEMPORAL_TLS_CLIENT_KEY'] : [key!.variable, 'TEMPORAL_TLS_CLIENT_CERT'];
    throw new TemporalTlsConfigError(`${set} is set but ${missing}_PATH is not: a client certificate needs its key (set both, or neither; or ${missing}_DATA)`, `${missing}_PATH`);
  }
  const implied = [
    config.TEMPORAL_API_KEY ? 'TEMPORAL_API_KEY' : undefined,
    ca?.variable,
    cert?.variable,
    config.TEMPORAL_TLS_SERVER_NAME ? 'TEMPORAL_TLS_SERVER_NAME' : undefined,
  ].filter((v): v is string => v !== undefined);
  if (config.TEMPORAL_TLS === false && implied.length > 0) {
    throw new TemporalTlsConfigError(`TEMPORAL_TLS is false but ${implied.join(', ')} ${implied.length > 1 ? 'are' : 'is'} set, which need${implied.length > 1 ? '' : 's'} TLS; unset TEMPORAL_TLS or set it to true`, 'TEMPORAL_TLS');
  }
  const address = config.TEMPORAL_ADDRESS;
  const apiKey = config.TEMPORAL_API_KEY;
  if (!(config.TEMPORAL_TLS ?? implied.length > 0)) return { address };
  const tls: TLSConfig = {};
  if (ca) tls.serverRootCACertificate = readPem(ca, 'certificate');
  if (cert && key) tls.clientCertPair = { crt: readPem(cert, 'certificate'), key: readPem(key, 'key') };
  if (config.TEMPORAL_TLS_SERVER_NAME) tls.serverNameOverride = config.TEMPORAL_TLS_SERVER_NAME;
  return { address, tls, ...(apiKey ? { apiKey } : {}) };
}

/** A one-line description of how `options` connect, for logs: never the API key. */
export function describeConnection(options: TemporalConnectionOptions): string {
  if (!options.tls) return `${options.address} (plain text)`;
  const parts = ['TLS'];
  if (options.tls.clientCertPair) parts.push('client certificate');
  if (options.tls.serverRootCACertificate) parts.push('own CA');
  if (options.tls.serverNameOverride) parts.push(`server name ${options.tls.serverNameOverride}`);
  if (options.apiKey) parts.push('API key');
  return `${options.address} (${parts.join(', ')})`;
}

/** The workflow service both connection kinds expose; only the call made here. */
interface DescribesNamespaces {
  workflowService: { describeNamespace(req: { namespace: string }): Promise<unknown> };
}

/**
 * Throws {@link NamespaceNotFoundError} when `namespace` is not on the server `connection` reached,
 * and says so plainly when the server refuses the credentials; a client not allowed to describe
 * namespaces passes.
 */
export async function checkNamespace(connection: DescribesNamespaces, namespace: string, address: string): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    // gRPC status codes; both the JS and the native connection report them as `code`.
    const code = (err as { code?: unknown }).code;
    if (code === 5) throw new NamespaceNotFoundError(namespace, address, { cause: err });
    // A client may be allowed to run workflows without being allowed to describe the namespace.
    if (code === 7) return;
    if (code === 16) {
      throw new TemporalAuthError(`the server at ${address} refused this client's credentials (${(err as Error).message}); check TEMPORAL_API_KEY, or the client certificate`, { cause: err });
    }
    throw err;
  }
}

/**
 * What to tell a person whose connection failed. gRPC reports a failed TLS handshake only as
 * "Failed to connect before the deadline", so this repeats the handshake with Node's TLS (same
 * CA, client certificate and server name) to find the actual reason, and words it as what to set.
 */
export async function explainConnectFailure(err: unknown, options: TemporalConnectionOptions, probeMs = 3000): Promise<string> {
  const message = err instanceof Error ? err.message : String(err);
  const where = describeConnection(options);
  const probe = await probeTls(options, probeMs);
  if (options.tls) {
    if (probe.kind === 'tls-error') return `the TLS handshake with ${where} failed: ${tlsAdvice(probe.error, options)}`;
    if (probe.kind === 'refused') return `cannot reach a Temporal server at ${where}: nothing accepts connections there (${probe.error.message})`;
    if (probe.kind === 'closed' && probe.handshook) {
      return `the TLS handshake with ${where} completed, then the server closed the connection: ` +
        (options.tls.clientCertPair
          ? 'it most likely refused the client certificate; TEMPORAL_TLS_CLIENT_CERT_PATH must be signed by a CA the server trusts for clients.'
          : 'it most likely requires a client certificate (mTLS); set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH.');
    }
  } else if (probe.kind === 'ok' || ('handshook' in probe && probe.handshook) || (probe.kind === 'tls-error' && /alert/i.test(probe.error.message))) {
    return `cannot reach a Temporal server at ${where} (${message}): the server there speaks TLS; set TEMPORAL_TLS=true ` +
      '(and TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH as it needs), or TEMPORAL_API_KEY for Temporal Cloud';
  }
  return `cannot reach a Temporal server at ${where} (${message})`;
}

type Probe =
  | { kind: 'ok' }
  | { kind: 'tls-error'; error: NodeJS.ErrnoException; handshook: boolean }
  | { kind: 'refused'; error: Error }
  | { kind: 'closed'; handshook: boolean }
  | { kind: 'inconclusive' };

const HOST_PORT = /^(?:\[(?<v6>[^\]]+)\]|(?<host>[^:]+))(?::(?<port>\d+))?$/;

/**
 * A TLS handshake with the server as the connection would make it, followed by the HTTP/2
 * preface: with TLS 1.3 a server refuses a client certificate only after the handshake, so
 * success means the server answered a frame.
 */
async function probeTls(options: TemporalConnectionOptions, timeoutMs: number): Promise<Probe> {
  const m = HOST_PORT.exec(options.address);
  const host = m?.groups?.v6 ?? m?.groups?.host ?? 'localhost';
  const port = Number(m?.groups?.port ?? 7233);
  const t = options.tls;
  const servername = t?.serverNameOverride ?? (isIP(host) ? undefined : host);
  return await new Promise<Probe>((resolve) => {
    let settled = false;
    const done = (p: Probe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(p);
    };
    const socket = tlsConnect({
      host, port, servername,
      ALPNProtocols: ['h2'],
      rejectUnauthorized: Boolean(t),
      ...(t?.serverRootCACertificate ? { ca: Buffer.from(t.serverRootCACertificate) } : {}),
      ...(t?.clientCertPair ? { cert: Buffer.from(t.clientCertPair.crt), key: Buffer.from(t.clientCertPair.key) } : {}),
    });
    const timer = setTimeout(() => done({ kind: 'inconclusive' }), timeoutMs);
    let handshook = false;
    socket.once('secureConnect', () => {
      handshook = true;
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    });
    socket.once('data', () => done({ kind: 'ok' }));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const refused = ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EAI_AGAIN'].includes(error.code ?? '');
      done(refused ? { kind: 'refused', error } : { kind: 'tls-error', error, handshook });
    });
    socket.once('close', () => done({ kind: 'closed', handshook }));
  });
}

function tlsAdvice(error: NodeJS.ErrnoException, options: TemporalConnectionOptions): string {
  const code = error.code ?? '';
  const m = error.message.toLowerCase();
  const why = `(${code ? `${code}: ` : ''}${error.message.trim()})`;
  if (['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_SIGNATURE_FAILURE'].includes(code)) {
    return `the server's certificate is not signed by a CA this client trusts ${why}. ` +
      (options.tls?.serverRootCACertificate ? 'TEMPORAL_TLS_SERVER_CA_CERT_PATH names a CA that did not sign it; point it at the one that did.' : 'Set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the PEM file of the CA that signed it.');
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the server's certificate is not for the name this client checks ${why}. Set TEMPORAL_TLS_SERVER_NAME to a name the certificate is for.`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `the server's certificate is not valid now ${why}.`;
  if (/wrong version number|packet length too long|unknown protocol|http_request/.test(m)) {
    return `the server does not speak TLS on that port ${why}. Set TEMPORAL_TLS=false (and unset the TEMPORAL_TLS_* files and TEMPORAL_API_KEY), or use the server's TLS port.`;
  }
  if (!options.tls?.clientCertPair && /certificate required|handshake failure|bad certificate/.test(m)) {
    return `the server requires a client certificate (mTLS) ${why}. Set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH.`;
  }
  if (/unknown ca|bad certificate|certificate unknown|certificate required|access denied|handshake failure|decrypt error/.test(m)) {
    return `the server refused this client's certificate ${why}. TEMPORAL_TLS_CLIENT_CERT_PATH must be signed by a CA the server trusts for clients.`;
  }
  return `${why}`;
}
