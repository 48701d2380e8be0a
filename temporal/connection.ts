/**
 * How every Darkroom process reaches Temporal — the workers (NativeConnection), the CLI and the
 * reviewer tool (Connection) — built from one configuration: a local dev server in plain text,
 * a self-hosted cluster with mTLS, or Temporal Cloud with an API key. The variable names are the
 * temporal CLI's, so one environment serves both tools.
 */
import { readFileSync } from 'node:fs';
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

/**
 * The connection options for `config`. TLS is on when TEMPORAL_TLS=true, or when it is unset and
 * an API key or any TLS file is given (as with the temporal CLI); TEMPORAL_TLS=false with those
 * set is refused rather than silently sending a key in plain text.
 */
export function temporalConnectionOptions(config: TemporalConnectionConfig): TemporalConnectionOptions {
  const cert = config.TEMPORAL_TLS_CLIENT_CERT_PATH;
  const key = config.TEMPORAL_TLS_CLIENT_KEY_PATH;
  if (Boolean(cert) !== Boolean(key)) {
    const [set, unset] = cert ? ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH'] : ['TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_CLIENT_CERT_PATH'];
    throw new TemporalTlsConfigError(`${set} is set but ${unset} is not: a client certificate needs its key (set both, or neither)`, unset);
  }
  const implied = ([
    ['TEMPORAL_API_KEY', config.TEMPORAL_API_KEY],
    ['TEMPORAL_TLS_SERVER_CA_CERT_PATH', config.TEMPORAL_TLS_SERVER_CA_CERT_PATH],
    ['TEMPORAL_TLS_CLIENT_CERT_PATH', cert],
    ['TEMPORAL_TLS_SERVER_NAME', config.TEMPORAL_TLS_SERVER_NAME],
  ] as const).filter(([, v]) => v).map(([name]) => name);
  if (config.TEMPORAL_TLS === false && implied.length > 0) {
    throw new TemporalTlsConfigError(`TEMPORAL_TLS is false but ${implied.join(', ')} ${implied.length > 1 ? 'are' : 'is'} set, which need${implied.length > 1 ? '' : 's'} TLS; unset TEMPORAL_TLS or set it to true`, 'TEMPORAL_TLS');
  }
  const address = config.TEMPORAL_ADDRESS;
  const apiKey = config.TEMPORAL_API_KEY;
  if (!(config.TEMPORAL_TLS ?? implied.length > 0)) return { address };
  const tls: TLSConfig = {};
  if (config.TEMPORAL_TLS_SERVER_CA_CERT_PATH) {
    tls.serverRootCACertificate = readPemFile('TEMPORAL_TLS_SERVER_CA_CERT_PATH', config.TEMPORAL_TLS_SERVER_CA_CERT_PATH, 'certificate');
  }
  if (cert && key) {
    tls.clientCertPair = {
      crt: readPemFile('TEMPORAL_TLS_CLIENT_CERT_PATH', cert, 'certificate'),
      key: readPemFile('TEMPORAL_TLS_CLIENT_KEY_PATH', key, 'key'),
    };
  }
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

/** Throws {@link NamespaceNotFoundError} when `namespace` is not on the server `connection` reached. */
export async function checkNamespace(connection: DescribesNamespaces, namespace: string, address: string): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    // gRPC NOT_FOUND; both the JS and the native connection report the status code as `code`.
    if ((err as { code?: unknown }).code === 5) throw new NamespaceNotFoundError(namespace, address, { cause: err });
    throw err;
  }
}

/**
 * What to tell a person whose connection failed, from the error and how it was tried: TLS
 * problems read differently from a server that is not there at all.
 */
export function explainConnectError(err: unknown, options: TemporalConnectionOptions): string {
  const message = err instanceof Error ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}` : String(err);
  const m = message.toLowerCase();
  const where = describeConnection(options);
  if (options.tls) {
    if (/unknownissuer|unknown ca|self.signed|certificate verify failed|invalid peer certificate|unable to get local issuer/.test(m)) {
      return `the TLS handshake with ${where} failed: the server's certificate is not signed by a CA this client trusts (${message}). ` +
        'Set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the PEM file of the CA that signed it.';
    }
    if (/notvalidforname|not valid for name|hostname mismatch|does not match|subject alt/.test(m)) {
      return `the TLS handshake with ${where} failed: the server's certificate is not for that name (${message}). ` +
        'Set TEMPORAL_TLS_SERVER_NAME to the name in the certificate.';
    }
    if (/certificate required|handshake|alert|bad certificate|certificaterequired|tls|ssl|connection reset|broken pipe|unexpected eof|peer closed/.test(m)) {
      return `the TLS handshake with ${where} failed (${message}). ` +
        (options.tls.clientCertPair
          ? 'Check that the server trusts the CA of TEMPORAL_TLS_CLIENT_CERT_PATH, and that the server really speaks TLS on that port.'
          : 'If the server requires a client certificate (mTLS), set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH; ' +
            'if it does not speak TLS, set TEMPORAL_TLS=false.');
    }
    return `cannot reach a Temporal server at ${where} (${message})`;
  }
  if (/http2|frame|protocol error|connection reset|broken pipe|unexpected eof/.test(m)) {
    return `cannot reach a Temporal server at ${where} (${message}). If the server requires TLS, set TEMPORAL_TLS=true ` +
      '(and TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH as it needs).';
  }
  return `cannot reach a Temporal server at ${where} (${message})`;
}
