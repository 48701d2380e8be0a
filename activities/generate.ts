/** One candidate, paid for exactly once: the stored image is the proof of payment, the ledger the record. */
import { Context } from '@temporalio/activity';
import { IMAGE_MODELS, imagePrice } from '../domain/models';
import type { ResolvedReferences } from '../domain/references';
import { candidateId, candidateKey } from '../domain/naming';
import type { Candidate } from '../domain/types';
import type { BlobStore } from './blob-store';
import { toFailure, withHeartbeat } from './failures';
import type { ActivityDeps, GenerateCandidateInput } from './index';
import { ledgerFor, writeLedger } from './ledger';
import type { ProviderRegistry, ReferenceImage } from './providers';

/**
 * Makes one candidate, exactly once. The blob key is derived from everything that determines
 * the image, so a retry (after a crash, a timeout, a replay) finds the stored image and returns
 * it without calling the provider again; a crash between storing the image and its ledger entry
 * is repaired by the retry, at the catalog price.
 */
export async function generateOnce(
  input: GenerateCandidateInput,
  deps: { blobs: BlobStore; providers: ProviderRegistry; onPaidCall: ActivityDeps['onPaidCall']; now: () => string },
): Promise<Candidate> {
  const { blobs, providers, onPaidCall, now } = deps;
  const id = candidateId(input.round, input.index);
  const key = candidateKey(input.workflowId, input.round, input.index, input.prompt.version, input.seed);
  const base = { id, round: input.round, index: input.index, seed: input.seed, model: input.model, promptVersion: input.prompt.version };
  // The image is the proof of payment: found, it is never paid for again.
  const existing = await blobs.head(key);
  if (existing) {
    let spent = await ledgerFor(blobs, input.workflowId, id, key);
    if (spent.entries === 0) {
      // Paid and stored, but the worker died before the ledger entry: record the spend now, once.
      const costUsd = imagePrice(input.model, `${input.width}x${input.height}`);
      await writeLedger(blobs, { workflowId: input.workflowId, candidateId: id, key, model: input.model, costUsd, at: now(), attempt: Context.current().info.attempt, ms: 0, recovered: true });
      spent = { costUsd, ms: 0, entries: 1 };
    }
    return { ...base, blob: existing, costUsd: spent.costUsd, generateMs: spent.ms, reused: true };
  }
  const generator = providers.imageGenerator(input.model);
  const references = await loadReferences(blobs, input.references, IMAGE_MODELS[input.model]?.maxReferenceImages ?? 0);
  const ctx = Context.current();
  const started = Date.now();
  let result;
  try {
    result = await withHeartbeat(() =>
      generator.generate({
        model: input.model,
        prompt: input.prompt.text,
        negativePrompt: input.prompt.negative,
        width: input.width,
        height: input.height,
        seed: input.seed,
        palette: input.palette,
        composition: input.prompt.knobs.composition,
        lighting: input.prompt.knobs.lighting,
        style: input.prompt.knobs.style,
        ...(references.length ? { references } : {}),
        ...(input.lora ? { lora: input.lora } : {}),
        signal: ctx.cancellationSignal,
      }),
    );
  } catch (err) {
    throw toFailure(err);
  }
  const ms = Date.now() - started;
  // The image first: once it is stored, no retry pays for it again (see the check above,
  // which also writes a ledger entry the crash left out). Ledger first would leave a
  // window where the spend is recorded but the image is lost, and a retry pays twice.
  await onPaidCall?.('called', key);
  const blob = await blobs.put(key, result.image, { mime: result.mime, width: result.width, height: result.height });
  await onPaidCall?.('image-stored', key);
  await writeLedger(blobs, {
    workflowId: input.workflowId, candidateId: id, key, model: result.model, costUsd: result.costUsd,
    at: now(), attempt: ctx.info.attempt, ms,
  });
  await onPaidCall?.('ledger-written', key);
  return { ...base, blob, costUsd: result.costUsd, generateMs: ms, reused: false };
}

/** The references a model takes, product first, up to its limit: none for a text-only model. */
async function loadReferences(blobs: BlobStore, refs: ResolvedReferences | undefined, max: number): Promise<ReferenceImage[]> {
  if (!refs || max <= 0) return [];
  const wanted = [...(refs.product ? [{ role: 'product' as const, blob: refs.product }] : []), ...refs.style.map((blob) => ({ role: 'style' as const, blob }))].slice(0, max);
  return Promise.all(wanted.map(async (r) => ({ role: r.role, image: await blobs.get(r.blob.key), mime: r.blob.mime })));
}
