/**
 * Darkroom's use of the C2PA SDK (`@contentauth/c2pa-node`), in plain JavaScript so that one file
 * serves both ways of running it:
 *
 * - imported by the worker (`createC2paHandler`) when the worker's own Node is 22 or newer;
 * - run as a sidecar process by a Node 22 binary when the worker runs Node 20, which the SDK does
 *   not support: `node c2pa-sidecar.mjs <path of the SDK's dist/index.js>`, with framed requests
 *   on stdin and framed answers on stdout (see `serve`).
 *
 * Requests are `{ op, ...fields }` with up to two binary parts (the asset, an ingredient). The
 * private key arrives once, in the `init` request, over the pipe: never in argv or the environment.
 */
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

/** Reader settings: no network (no OCSP, no remote manifests), trust checked only against given anchors. */
function readerSettings(trustAnchorsPem) {
  return JSON.stringify({
    verify: { verify_trust: Boolean(trustAnchorsPem), ocsp_fetch: false, remote_manifest_fetch: false },
    ...(trustAnchorsPem ? { trust: { trust_anchors: trustAnchorsPem } } : {}),
  });
}

/** Builder settings: no thumbnails, which would add tens of kilobytes to every deliverable. */
const BUILDER_SETTINGS = JSON.stringify({ builder: { thumbnail: { enabled: false } } });

/**
 * The C2PA operations over a loaded SDK module.
 * @param {any} c2pa the SDK module (`@contentauth/c2pa-node`)
 */
export function createC2paHandler(c2pa) {
  let signer;
  let trustAnchorsPem;

  async function read({ mime, trustAnchorsPem: anchors }, bytes, sidecar) {
    const settings = readerSettings(anchors ?? trustAnchorsPem);
    // With a sidecar (a .c2pa manifest store beside the file), it is read against the file's bytes.
    const reader = sidecar
      ? await c2pa.Reader.fromManifestDataAndAsset(sidecar, { buffer: bytes, mimeType: mime }, settings)
      : await c2pa.Reader.fromAsset({ buffer: bytes, mimeType: mime }, settings);
    if (!reader) return { state: 'none' };
    const store = reader.json();
    const active = store.active_manifest ? store.manifests?.[store.active_manifest] : undefined;
    if (!active) return { state: 'none' };
    const actions = (active.assertions ?? [])
      .filter((a) => typeof a.label === 'string' && a.label.startsWith('c2pa.actions'))
      .flatMap((a) => a.data?.actions ?? []);
    const generator = active.claim_generator_info?.[0];
    const failures = store.validation_results?.activeManifest?.failure ?? store.validation_status ?? [];
    return {
      state: 'read',
      validation: store.validation_state ?? 'Invalid',
      issuer: active.signature_info?.issuer,
      signer: active.signature_info?.common_name,
      signedAt: active.signature_info?.time,
      claimGenerator: generator ? [generator.name, generator.version].filter(Boolean).join('/') : active.claim_generator,
      actions: actions.map((a) => a.action),
      digitalSourceType: actions.find((a) => a.digitalSourceType)?.digitalSourceType,
      ingredients: (active.ingredients ?? []).map((i) => ({ title: i.title, relationship: i.relationship, hasManifest: Boolean(i.active_manifest) })),
      ...(failures.length ? { errors: failures.map((f) => f.code) } : {}),
    };
  }

  async function sign({ mime, title, claimGenerator, actions, ingredient, sidecar }, bytes, ingredientBytes) {
    if (!signer) throw new Error('no signer: init was not given a certificate and key');
    const builder = c2pa.Builder.withJson({
      claim_generator_info: [claimGenerator],
      title,
      format: mime,
      assertions: [],
    }, BUILDER_SETTINGS);
    if (ingredient && ingredientBytes) {
      await builder.addIngredient(
        JSON.stringify({ title: ingredient.title, relationship: 'parentOf', label: 'generated' }),
        { buffer: ingredientBytes, mimeType: ingredient.mime },
      );
    }
    for (const action of actions) builder.addAction(JSON.stringify(action));
    // A sidecar manifest leaves the file as it is and comes back as the manifest store's bytes.
    if (sidecar) builder.setNoEmbed(true);
    const out = { buffer: null };
    const manifest = builder.sign(signer, { buffer: bytes, mimeType: mime }, out);
    const returned = sidecar ? manifest : out.buffer;
    return { result: { bytes: returned.length }, bytes: returned };
  }

  return {
    /** Loads the signer (when a certificate is given) and the trust anchors used when reading. */
    init(request) {
      trustAnchorsPem = request.trustAnchorsPem;
      if (request.certPem && request.keyPem) {
        signer = c2pa.LocalSigner.newSigner(Buffer.from(request.certPem), Buffer.from(request.keyPem), request.alg, request.tsaUrl || undefined);
      }
      return { result: { signer: Boolean(signer), node: process.versions.node } };
    },
    async handle(request, parts) {
      switch (request.op) {
        case 'init': return this.init(request);
        case 'read': return { result: await read(request, parts[0], parts[1]) };
        case 'sign': return sign(request, parts[0], parts[1]);
        default: throw new Error(`unknown op ${request.op}`);
      }
    },
  };
}

/*
 * Framing, both ways: a 4-byte big-endian length and that much JSON, then each binary part the
 * JSON's `parts` lists (their lengths), back to back.
 */

/** One framed message as bytes. */
export function frame(json, parts = []) {
  const head = Buffer.from(JSON.stringify({ ...json, parts: parts.map((p) => p.length) }));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.length, 0);
  return Buffer.concat([len, head, ...parts]);
}

/**
 * Splits framed messages off a stream of chunks; calls `onMessage(json, parts)` for each whole one.
 * Chunks are only joined once a whole message has arrived: joining on every 64 KiB pipe chunk
 * would copy a multi-megabyte image dozens of times.
 */
export function deframer(onMessage) {
  let chunks = [];
  let have = 0;
  let need = 4;
  return (chunk) => {
    chunks.push(chunk);
    have += chunk.length;
    if (have < need) return;
    let buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, have);
    for (;;) {
      need = 4;
      if (buf.length >= 4) {
        const headLen = buf.readUInt32BE(0);
        need = 4 + headLen;
        if (buf.length >= need) {
          const json = JSON.parse(buf.subarray(4, 4 + headLen).toString('utf8'));
          const lengths = json.parts ?? [];
          need = 4 + headLen + lengths.reduce((n, l) => n + l, 0);
          if (buf.length >= need) {
            const parts = [];
            let p = 4 + headLen;
            for (const l of lengths) {
              parts.push(buf.subarray(p, p + l));
              p += l;
            }
            buf = buf.subarray(need);
            onMessage(json, parts);
            continue;
          }
        }
      }
      chunks = buf.length ? [buf] : [];
      have = buf.length;
      return;
    }
  };
}

/** The sidecar: one request at a time, answered in order, until stdin closes (the worker is gone). */
async function serve(modulePath) {
  const c2pa = await import(pathToFileURL(modulePath).href);
  const handler = createC2paHandler(c2pa);
  let queue = Promise.resolve();
  process.stdin.on('data', deframer((json, parts) => {
    // Parts are views into a buffer the deframer moves past; copy them before the next chunk.
    const owned = parts.map((p) => Buffer.from(p));
    queue = queue.then(async () => {
      const started = performance.now();
      try {
        const { result, bytes } = await handler.handle(json, owned);
        process.stdout.write(frame({ id: json.id, ok: true, result, ms: performance.now() - started }, bytes ? [bytes] : []));
      } catch (err) {
        process.stdout.write(frame({ id: json.id, ok: false, error: err instanceof Error ? err.message : String(err) }));
      }
    });
  }));
  process.stdin.on('end', () => process.exit(0));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const modulePath = process.argv[2];
  if (!modulePath) {
    process.stderr.write('usage: node c2pa-sidecar.mjs <path of @contentauth/c2pa-node/dist/index.js>\n');
    process.exit(2);
  }
  serve(modulePath).catch((err) => {
    process.stderr.write(`c2pa sidecar: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
