/**
 * Throwaway certificates made with `openssl` at test time, and a TLS-terminating TCP proxy in
 * front of the dev server (which serves plain text only): gRPC's HTTP/2 passes through a raw
 * byte pipe, so a client that gets through the proxy's handshake talks to the real server.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

export interface TestPki {
  dir: string;
  /** The CA that signed the server and client certificates. */
  caCert: string;
  /** A CA that signed nothing here: trusting it alone must fail. */
  otherCaCert: string;
  serverCert: string;
  serverKey: string;
  /** The name in the server certificate (its only SAN). */
  serverName: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by the other CA: the proxy must refuse it. */
  strangerCert: string;
  strangerKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function makeLeaf(dir: string, ca: string, name: string, ext: string): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
}

/** A CA, a server certificate for `serverName`, a client certificate, and a stranger signed by another CA. */
export function makeTestPki(serverName = 'temporal.darkroom.test'): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'darkroom-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'ca', 'server', `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  makeLeaf(dir, 'ca', 'client', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  makeLeaf(dir, 'other-ca', 'stranger', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  const p = (f: string) => path.join(dir, f);
  return {
    dir, serverName,
    caCert: p('ca.pem'), otherCaCert: p('other-ca.pem'),
    serverCert: p('server.pem'), serverKey: p('server.key'),
    clientCert: p('client.pem'), clientKey: p('client.key'),
    strangerCert: p('stranger.pem'), strangerKey: p('stranger.key'),
  };
}

export interface TlsProxy {
  /** 127.0.0.1:PORT */
  address: string;
  /** Common names of the client certificates of connections that got through. */
  authorizedClients: string[];
  /** Handshakes that failed, with the reason the proxy saw. */
  refused: string[];
  close(): Promise<void>;
}

/** A TLS server on a free port that requires a client certificate signed by the test CA and pipes each connection to `target`. */
export async function startTlsProxy(pki: TestPki, target: string): Promise<TlsProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const authorizedClients: string[] = [];
  const refused: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({
    key: readFileSync(pki.serverKey),
    cert: readFileSync(pki.serverCert),
    ca: readFileSync(pki.caCert),
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
  }, (client) => {
    const subject = client.getPeerCertificate().subject;
    authorizedClients.push(typeof subject?.CN === 'string' ? subject.CN : '?');
    const upstream = net.connect(port, host);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  server.on('tlsClientError', (err) => refused.push(err.message));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: listening } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${listening}`,
    authorizedClients,
    refused,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
