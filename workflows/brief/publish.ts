import type { ManifestDraft } from '../../activities';
import type { Asset, BlobRef, Candidate, Manifest, ManifestAsset, ManifestCandidate, PreparedBrief, SourceProvenance, Span, StageTiming } from '../../domain/types';
import { activitiesFor, cheapStepsFor } from './proxies';
import { referenceKeys } from '../../domain/references';
import type { Picked } from './review';
import type { BriefRun, Made } from './run';

/** The master each approved candidate is formatted from: itself, or its upscaled copy. */
export type Masters = Map<string, { blob: BlobRef; upscaledFrom?: ManifestCandidate['upscaledFrom'] }>;

/** One approved candidate's files for every channel, and its alt text. */
export interface Formatted {
  candidate: Made;
  assets: Asset[];
  altText: string;
  /** The vendor's C2PA manifest on the generated image; absent in histories recorded before C2PA. */
  source?: SourceProvenance;
}

/** Enlarges the approved masters when some channel needs more pixels than they have. */
export async function upscaleIfNeeded(run: BriefRun, plan: PreparedBrief, approved: Made[]): Promise<Masters> {
  run.status.candidates.selected = approved.length;
  const { master } = plan;
  const need = Math.max(...plan.channels.map((c) => Math.max(c.width / master.width, c.height / master.height)));
  const masters: Masters = new Map(approved.map((c) => [c.id, { blob: c.blob }]));
  if (need <= 1) return masters;
  run.enter('upscaling');
  const acts = activitiesFor(plan.settings);
  const minWidth = Math.ceil(master.width * need);
  const minHeight = Math.ceil(master.height * need);
  await Promise.all(approved.map(async (c) => {
    const up = await acts.upscaleCandidate({ workflowId: run.workflowId, candidateId: c.id, blob: c.blob, minWidth, minHeight });
    run.record('upscale', up.timing);
    run.spend(up.costUsd);
    masters.set(c.id, { blob: up.blob, upscaledFrom: { width: c.blob.width, height: c.blob.height, factor: Math.round((up.blob.width / c.blob.width) * 1000) / 1000 } });
  }));
  return masters;
}

/** Cuts every channel's sizes and formats from each master, and writes each candidate's alt text. */
export async function formatAll(run: BriefRun, plan: PreparedBrief, { approved, gen }: Picked, masters: Masters): Promise<Formatted[]> {
  run.enter('formatting');
  const acts = activitiesFor(plan.settings);
  const channels = plan.channels.map((c) => c.id);
  run.status.assets.total = approved.length * plan.channels.reduce((n, c) => n + c.formats.length, 0);
  return Promise.all(approved.map(async (candidate) => {
    const master = masters.get(candidate.id)!;
    const product = gen.judgementOf.get(candidate.id)?.product;
    const [f, alt] = await Promise.all([
      // `generated`: an upscaled master has lost the vendor's C2PA manifest; the original has it.
      acts.formatCandidate({
        workflowId: run.workflowId, candidateId: candidate.id, master: master.blob, channels,
        ...(master.upscaledFrom ? { generated: candidate.blob } : {}),
        ...(product ? { focus: product } : {}),
        ...(run.brand ? { logo: { blob: run.brand.logo, placements: run.brand.placements } } : {}),
      }),
      acts.writeAltText({ brief: plan.brief, blob: candidate.blob }),
    ]);
    run.record('format', f.timing);
    run.record('alt-text', alt.timing);
    run.spend(alt.costUsd);
    run.status.assets.done += f.assets.length;
    return { candidate, assets: f.assets, altText: alt.text, ...(f.source ? { source: f.source } : {}) };
  }));
}

/** The manifest for either outcome: published (with what was formatted) or rejected (with why). */
export function manifestDraft(run: BriefRun, plan: PreparedBrief, picked: Picked, formatted: Formatted[] = [], masters: Masters = new Map()): ManifestDraft {
  const { gen, prompt, promptOf } = picked;
  const judgementOf = gen.judgementOf;
  const textOf = (c: Candidate) => promptOf.get(c.promptVersion)?.text ?? prompt.text;
  // Only briefs with references get the fields, so manifests of other briefs read as before.
  const refKeys = referenceKeys(plan.references);
  const refsOf = (c: Candidate) => {
    if (!plan.references) return {};
    const fidelity = judgementOf.get(c.id)?.scores.fidelity;
    return { ...(fidelity !== undefined ? { fidelity } : {}), referenceKeys: refKeys };
  };
  const selected: ManifestCandidate[] = formatted.map(({ candidate: c, altText, source }) => {
    const j = judgementOf.get(c.id)!;
    return {
      id: c.id, model: c.model, seed: c.seed, promptVersion: c.promptVersion, prompt: textOf(c),
      master: masters.get(c.id)!.blob, upscaledFrom: masters.get(c.id)!.upscaledFrom,
      judge: { score: j.score, rank: j.rank, scores: j.scores, reasons: j.reasons, judge: j.judge, ...(j.verdict ? { verdict: j.verdict } : {}), ...(j.product ? { product: j.product } : {}) },
      altText, costUsd: c.costUsd, ...(source ? { provenance: source } : {}), ...refsOf(c),
    };
  });
  const assets: ManifestAsset[] = formatted.flatMap(({ candidate: c, assets: list, altText }) =>
    list.map((a) => ({
      ...a, model: c.model, prompt: textOf(c), promptVersion: c.promptVersion, seed: c.seed,
      judgeScore: judgementOf.get(c.id)!.score, judgeReasons: judgementOf.get(c.id)!.reasons, altText, ...refsOf(c),
      costUsd: Math.round((c.costUsd / list.length) * 1e6) / 1e6,
    })),
  );
  const { status, review } = run;
  return {
    workflowId: run.workflowId, runId: run.runId, outcome: picked.rejection ? 'rejected' : 'published',
    brief: plan.brief, prompt, promptScore: plan.promptScore, rounds: status.round,
    candidates: gen.all.map((c) => ({
      id: c.id, round: c.round, seed: c.seed, model: c.model, promptVersion: c.promptVersion, costUsd: c.costUsd,
      reused: c.reused, key: c.blob.key, score: judgementOf.get(c.id)?.score, rank: judgementOf.get(c.id)?.rank, ...refsOf(c),
      ...(judgementOf.get(c.id)?.verdict ? { verdict: judgementOf.get(c.id)!.verdict } : {}),
    })),
    ...(plan.references ? { references: plan.references } : {}),
    rejectedCandidates: gen.rejected,
    selected,
    assets,
    judgeUnchecked: gen.unchecked,
    ...(run.moderation.length ? { moderation: run.moderation } : {}),
    ...(run.autoApproval ? { autoApproval: run.autoApproval } : {}),
    cost: { forecastUsd: plan.forecast.totalUsd, actualUsd: status.cost.actualUsd, budgetUsd: status.cost.budgetUsd, currency: 'USD' },
    ...(review ? {
      review: {
        decisions: run.decisions, ignoredSignals: run.ignoredSignals,
        ...(run.ignoredSignalsDropped > 0 ? { ignoredSignalsDropped: run.ignoredSignalsDropped } : {}),
        remindersSent: review.remindersSent, outcome: review.outcome ?? 'approved',
      },
    } : {}),
    ...(picked.rejection ? { rejection: picked.rejection } : {}),
    timings: stageTimings(run.spans),
  };
}

/**
 * Writes the manifest, announces the assets to the delivery webhook (if any), marks the brief
 * done or rejected, sends `brief.completed` (if an events webhook is set) and tells its catalog.
 * A webhook that fails never undoes the publish: it shows in status and in the result.
 */
export async function publish(run: BriefRun, plan: PreparedBrief, draft: ManifestDraft): Promise<Manifest> {
  run.enter('publishing');
  const manifest = await cheapStepsFor(plan.settings).publishManifest(draft);
  run.status.manifestKey = manifest.manifestKey;
  const rejected = draft.outcome === 'rejected';
  const delivery = rejected ? undefined : await run.deliver();
  run.enter(rejected ? 'rejected' : 'done');
  await run.emit('brief.completed', {
    outcome: manifest.outcome, manifestKey: manifest.manifestKey, assets: manifest.assets.length, costUsd: run.status.cost.actualUsd,
    ...(rejected ? { reason: draft.rejection?.reason } : {}), ...(delivery ? { delivery: delivery.state } : {}),
  });
  await run.tellCatalog({
    state: rejected ? 'rejected' : 'done', costUsd: run.status.cost.actualUsd,
    ...(rejected ? { reason: draft.rejection?.reason } : {}), at: manifest.publishedAt,
  });
  const failures = run.status.webhookFailures;
  return { ...manifest, ...(delivery ? { delivery } : {}), ...(failures?.length ? { webhookFailures: failures } : {}) };
}

/** A stage's wall time runs from its first activity's start to its last one's end. */
function stageTimings(spans: Record<string, Span[]>): StageTiming[] {
  return Object.entries(spans).map(([stage, list]) => {
    const startedAt = list.map((s) => s.startedAt).sort()[0]!;
    const finishedAt = list.map((s) => s.finishedAt).sort().at(-1)!;
    return { stage, startedAt, finishedAt, ms: Date.parse(finishedAt) - Date.parse(startedAt) };
  });
}
