import { ApplicationFailure, workflowInfo, type ActivityFailure } from '@temporalio/workflow';
import { Failure } from '../../domain/failures';
import { IMAGE_MODELS, imagePrice } from '../../domain/models';
import { mergedPalette } from '../../domain/brand-words';
import { candidateId, candidateSeed } from '../../domain/naming';
import type { BuiltPrompt } from '../../domain/prompt';
import type { ResolvedReferences } from '../../domain/references';
import { clip } from '../../domain/text';
import type { Judgement, PreparedBrief, RejectedCandidate } from '../../domain/types';
import { verdictRejection } from '../../domain/verdict';
import { mapPool } from '../pool';
import { activitiesFor, briefPatched, failureType, type BriefActivities } from './proxies';
import type { BriefRun, Made } from './run';

/** Failures that mean "this provider cannot serve us now": try the next model in the chain. */
const FALL_BACK_ON = new Set<string>([Failure.Authentication, Failure.ProviderUnavailable, Failure.RateLimited, Failure.ResponseTooLarge]);

/**
 * Generation and judging across a brief's rounds: the model chain with its fallbacks, the
 * budget reserved before each paid call, and everything made, refused and judged so far.
 */
export class Generation {
  readonly all: Made[] = [];
  readonly rejected: RejectedCandidate[] = [];
  readonly judgementOf = new Map<string, Judgement>();
  /** Judged candidates the judge's verdict keeps from selection (also in {@link rejected}, with why). */
  readonly vetoed = new Set<string>();
  /** Brief checks the judge could not perform, from its last verdict. */
  unchecked: string[] = [];
  /** When the last verdict came in (worker clock): review deadlines count from it. */
  lastJudgedAt = '';
  private readonly acts: BriefActivities;
  private readonly chain: string[];
  private readonly down = new Set<string>();
  /** Why each model that went down failed last, for a ProvidersDown message a person can act on. */
  private readonly downBecause = new Map<string, string>();
  /** Generation may spend what the forecast leaves after judging, upscaling and alt text. */
  private readonly generationBudget: number;
  private generationSpent = 0;
  private inFlightUsd = 0;
  /** The brief's stored reference images, then its brand kit's style references, handed to the generator (the judge gets the product); none in histories from before references. */
  private readonly references?: ResolvedReferences;

  constructor(private readonly run: BriefRun, private readonly plan: PreparedBrief, private readonly budgetUsd: number) {
    this.acts = activitiesFor(plan.settings);
    if (plan.references && briefPatched('brief-references')) {
      this.references = plan.references;
      if (plan.references.product) run.status.product = plan.references.product;
    }
    // The brand kit's style references follow the brief's own; the generate activity keeps the
    // first maxReferenceImages of the model (product first), so the brief's choices win a tight cap.
    const brandStyle = run.brand?.styleReferences ?? [];
    if (brandStyle.length && briefPatched('brand-style-references')) {
      this.references = { ...this.references, style: [...(this.references?.style ?? []), ...brandStyle] };
    }
    this.chain = plan.route?.chain ?? [plan.model];
    this.generationBudget = budgetUsd - (plan.forecast.judgeUsd + plan.forecast.upscaleUsd);
  }

  /** Vendor calls go through one task queue per provider, where the worker enforces its rate limit; the offline generator stays on the brief's own queue. */
  private generatorFor(model: string): BriefActivities {
    const provider = IMAGE_MODELS[model]?.provider ?? 'local';
    return provider === 'local' ? this.acts : activitiesFor(this.plan.settings, `${workflowInfo().taskQueue}-${provider}`);
  }

  /** Generates one round's batch, a few at a time; refused candidates are set aside. */
  async round(round: number, prompt: BuiltPrompt): Promise<Made[]> {
    const { brief } = this.plan;
    this.run.status.candidates.total += brief.candidates;
    const made = await mapPool(Array.from({ length: brief.candidates }, (_, i) => i), this.plan.settings.generateConcurrency, (index) => this.candidate(round, index, prompt));
    const kept = made.filter((c): c is Made => c !== undefined);
    this.all.push(...kept);
    return kept;
  }

  private async candidate(round: number, index: number, prompt: BuiltPrompt): Promise<Made | undefined> {
    const { status } = this.run;
    for (;;) {
      const model = this.chain.find((m) => !this.down.has(m));
      if (!model) {
        const why = this.chain.map((m) => `${m} (${this.downBecause.get(m) ?? 'failed'})`).join('; ');
        throw ApplicationFailure.create({ message: `no image model could serve this brief: ${why}`, type: Failure.ProvidersDown, nonRetryable: true });
      }
      // Reserve the price before paying, so concurrent calls cannot overspend together.
      const price = imagePrice(model, `${this.plan.master.width}x${this.plan.master.height}`);
      if (price > 0 && this.generationSpent + this.inFlightUsd + price > this.generationBudget + 1e-9) {
        this.refuse(round, index, `not generated: it would take spend past the budget of $${this.budgetUsd.toFixed(2)}`, Failure.OverBudget);
        return undefined;
      }
      this.inFlightUsd += price;
      try {
        const c = await this.generatorFor(model).generateCandidate({
          workflowId: this.run.workflowId, round, index, model,
          seed: candidateSeed(this.plan.baseSeed, round, index),
          prompt, palette: mergedPalette(this.plan.brief.brandColors, this.run.brand?.prompt), width: this.plan.master.width, height: this.plan.master.height,
          ...(this.references ? { references: this.references } : {}),
          ...(this.run.brand?.lora ? { lora: this.run.brand.lora } : {}),
        });
        this.run.record('generate', c.timing);
        status.candidates.generated++;
        this.generationSpent += c.costUsd;
        this.run.spend(c.costUsd);
        return c;
      } catch (err) {
        const type = failureType(err);
        // A refused candidate is recorded and the batch goes on with the rest.
        if (type === Failure.ContentPolicy) {
          this.refuse(round, index, (err as ActivityFailure).cause!.message, Failure.ContentPolicy);
          return undefined;
        }
        // The provider is down (retries exhausted) or refuses our key: next model in the chain.
        if (type && FALL_BACK_ON.has(type) && this.chain.length > 1) {
          if (!this.down.has(model)) status.route?.down.push(model);
          this.down.add(model);
          this.downBecause.set(model, `${type}: ${clip((err as ActivityFailure).cause?.message ?? '', 300)}`);
          continue;
        }
        throw err;
      } finally {
        this.inFlightUsd -= price;
      }
    }
  }

  private refuse(round: number, index: number, reason: string, type: string): void {
    this.rejected.push({ id: candidateId(round, index), round, index, reason, type });
    this.run.status.candidates.rejected++;
    this.run.touch();
  }

  /** Ranks a round's candidates against the brief; returns the ids of the judge's top K. */
  async judge(made: Made[]): Promise<string[]> {
    const { brief } = this.plan;
    this.run.enter('judging');
    const judged = await this.acts.judgeCandidates({
      workflowId: this.run.workflowId, brief, candidates: made.map((c) => ({ id: c.id, blob: c.blob })),
      ...(this.references?.product ? { reference: this.references.product } : {}),
      ...(this.run.brand ? { palette: mergedPalette(brief.brandColors, this.run.brand.prompt) } : {}),
    });
    this.run.record('judge', judged.timing);
    this.run.spend(judged.costUsd);
    for (const j of judged.judgements) this.judgementOf.set(j.candidateId, j);
    this.unchecked = judged.unchecked;
    this.run.status.candidates.judged += judged.judgements.length;
    this.lastJudgedAt = judged.timing.finishedAt;
    // The judge's verdict is a veto, not a score: an unsafe candidate, or one showing a must-avoid
    // item, is set aside with its reason and is never selected, however well it scored.
    const passed = judged.judgements.filter((j) => {
      const why = verdictRejection(j);
      if (!why) return true;
      const made = this.byId(j.candidateId);
      this.refuse(made.round, made.index, why, Failure.JudgeRejected);
      this.vetoed.add(j.candidateId);
      return false;
    });
    return passed.slice(0, brief.topK).map((j) => j.candidateId);
  }

  /** The judgements of the given candidates, in the given order. */
  judgementsOf(ids: readonly string[]): Judgement[] {
    return ids.map((id) => this.judgementOf.get(id)!).filter(Boolean);
  }

  byId(id: string): Made {
    return this.all.find((c) => c.id === id)!;
  }
}
