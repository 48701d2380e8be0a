/**
 * A small receiver for Darkroom's delivery webhook, as a shop or CMS import would run it:
 * it checks the signature and its timestamp, acts once per event id, and writes the delivered
 * images into a product record, `<products dir>/<sku>.json`.
 *
 *   DARKROOM_WEBHOOK_SECRET=… PORT=8787 PRODUCTS_DIR=./products npx tsx examples/delivery-receiver/server.ts
 *
 * Plain node:http and node:crypto, no dependencies: copy it and change `applyDelivery`.
 */
import { createHmac, createHash, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Calls signed longer ago (or further ahead) than this are refused as replays. */
const TOLERANCE_SECONDS = 300;
const MAX_BODY_BYTES = 1024 * 1024;
/** A SKU becomes a file name: nothing that could climb out of the products folder. */
const SAFE_SKU = /^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$/;

export interface ReceiverOptions {
  secret: string;
  productsDir: string;
  /** @default () => Date.now() */
  now?: () => number;
}

/** Why a call was refused, or undefined when its signature and timestamp hold. */
export function verifySignature(secret: string, headers: IncomingMessage['headers'], body: Buffer, nowMs: number): string | undefined {
  const header = String(headers['x-darkroom-signature'] ?? '');
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1) return 'missing or malformed X-Darkroom-Signature';
  if (String(headers['x-darkroom-timestamp'] ?? '') !== String(t)) return 'X-Darkroom-Timestamp does not match the signature';
  if (Math.abs(nowMs / 1000 - t) > TOLERANCE_SECONDS) return 'timestamp too old or too far ahead';
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  const given = Buffer.from(parts.v1, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad signature';
  return undefined;
}

interface Delivery {
  id: string;
  type: string;
  workflowId: string;
  brief: { subject: string; sku?: string; id?: string };
  assets: Array<{ channel: string; format: string; mime: string; width: number; height: number; url: string; altText: string; sha256: string }>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Writes a file whole or not at all: a reader never sees half a product. */
async function writeJson(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2));
  await rename(tmp, file);
}

/** The product gets the delivered images; everything else in its record is kept. */
async function applyDelivery(productsDir: string, d: Delivery): Promise<string> {
  const sku = d.brief.sku!;
  const file = path.join(productsDir, `${sku}.json`);
  const product: Record<string, unknown> = await readFile(file, 'utf8').then((s) => JSON.parse(s) as Record<string, unknown>, () => ({ sku }));
  product.images = d.assets.map((a) => ({ channel: a.channel, format: a.format, mime: a.mime, width: a.width, height: a.height, url: a.url, alt: a.altText, sha256: a.sha256 }));
  product.imagesFrom = { workflowId: d.workflowId, eventId: d.id };
  await writeJson(file, product);
  return file;
}

export function createReceiver(options: ReceiverOptions): Server {
  const now = options.now ?? (() => Date.now());
  const seenDir = path.join(options.productsDir, '.events');
  // Event ids handled, kept on disk so a retry after a restart is still recognised.
  const seenFile = (id: string) => path.join(seenDir, `${createHash('sha256').update(id).digest('hex')}.json`);
  const seen = (id: string) => readFile(seenFile(id)).then(() => true, () => false);

  return createServer((req, res) => {
    const reply = (status: number, body: Record<string, unknown>) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    void (async () => {
      if (req.method !== 'POST') return reply(405, { error: 'POST only' });
      const body = await readBody(req);
      const refused = verifySignature(options.secret, req.headers, body, now());
      if (refused) return reply(401, { error: refused });
      const delivery = JSON.parse(body.toString('utf8')) as Delivery;
      const eventId = String(req.headers['x-darkroom-event-id'] ?? '');
      if (!eventId || eventId !== delivery.id) return reply(400, { error: 'X-Darkroom-Event-Id missing or not the body\'s id' });
      if (delivery.type !== 'brief.delivered') return reply(202, { ignored: `event type ${delivery.type}` });
      if (await seen(eventId)) return reply(200, { duplicate: true });
      const sku = delivery.brief.sku;
      if (!sku) return reply(202, { ignored: 'the brief has no sku' });
      if (!SAFE_SKU.test(sku)) return reply(422, { error: 'sku is not a safe file name' });
      await mkdir(seenDir, { recursive: true });
      const file = await applyDelivery(options.productsDir, delivery);
      // Marked after applying: a crash in between repeats an update that gives the same record.
      await writeFile(seenFile(eventId), JSON.stringify({ id: eventId, at: new Date(now()).toISOString() }));
      console.log(`updated ${file} with ${delivery.assets.length} images (${eventId})`);
      return reply(200, { updated: sku, images: delivery.assets.length });
    })().catch((err: Error & { status?: number }) => {
      if (!res.headersSent) reply(err.status ?? (err instanceof SyntaxError ? 400 : 500), { error: err.message });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const secret = process.env.DARKROOM_WEBHOOK_SECRET;
  if (!secret || secret.length < 16) {
    console.error('set DARKROOM_WEBHOOK_SECRET (16+ characters, the same as the worker\'s)');
    process.exit(2);
  }
  const productsDir = path.resolve(process.env.PRODUCTS_DIR ?? 'products');
  await mkdir(productsDir, { recursive: true });
  const server = createReceiver({ secret, productsDir });
  server.listen(Number(process.env.PORT ?? 8787), process.env.HOST ?? '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    console.log(`delivery receiver on http://127.0.0.1:${port}/ writing ${productsDir}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
