/** The first activity of a brief: check the id and the brief, route it, build and score its prompt, forecast its cost. */
import { ApplicationFailure } from '@temporalio/activity';
import { parseBrief, type Brief } from '../domain/brief';
import { resolveChannel } from '../domain/channels';
import { runSettings, type Config } from '../domain/config';
import { Failure } from '../domain/failures';
import { hashInt, stableStringify } from '../domain/hash';
import { forecastBrief, RoutingError } from '../domain/models';
import { workflowIdProblem } from '../domain/naming';
import { buildPrompt, scorePrompt } from '../domain/prompt';
import { clip, preview } from '../domain/text';
import type { ResolvedReferences } from '../domain/references';
import type { PreparedBrief } from '../domain/types';
import type { BlobStore } from './blob-store';
import { ReferenceError, resolveReferences, type ReferenceFetcher } from './references';
import type { ProviderRegistry } from './providers';

const INVALID_BRIEF = Failure.InvalidBrief;
/** Issues listed in an InvalidBrief failure; the rest are counted. */
const MAX_ISSUES = 20;

/** The brief as the workflow received it (from the CLI, the Temporal UI or `temporal workflow start`), and the workflow's id. */
export interface PrepareBriefInput {
  raw: unknown;
  workflowId: string;
}

/**
 * Validates the brief (again: a brief started from the Temporal UI never passed the CLI),
 * routes it to a model, and builds and scores its prompt. Invalid input fails non-retryably
 * with every bad field listed, in a bounded message.
 */
export function prepareBrief(input: PrepareBriefInput, providers: Pick<ProviderRegistry, 'imageModels' | 'prices'>, config: Config): Omit<PreparedBrief, 'timing'> {
    // The id names the brief's folder in the blob store: check it before anything is stored.
    const idProblem = workflowIdProblem(input.workflowId);
    if (idProblem) {
      throw ApplicationFailure.create({
        message: `invalid workflow id ${preview(input.workflowId, 80)}: it ${idProblem}. Start briefs with \`darkroom start\` (it makes the id), or pick an id like brief-my-launch.`,
        type: Failure.InvalidWorkflowId,
        nonRetryable: true,
      });
    }
    const parsed = parseBrief(input.raw);
    if (!parsed.ok) {
      // Bounded whatever the input: a failure larger than gRPC's 4 MB never reaches the server.
      const shown = parsed.issues.slice(0, MAX_ISSUES).map((i) => ({ field: clip(i.field, 120), message: clip(i.message, 300) }));
      const more = parsed.issues.length - shown.length;
      throw ApplicationFailure.create({
        message: `invalid brief: ${shown.map((i) => `${i.field} ${i.message}`).join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
        type: INVALID_BRIEF,
        nonRetryable: true,
        details: [shown],
      });
    }
    const brief = parsed.brief;
    const prompt = buildPrompt(brief);
    const promptScore = scorePrompt(prompt.knobs);
    const cheapOnly = promptScore.score < brief.minPromptScore && brief.onLowPromptScore === 'cheap';
    let planned;
    try {
      planned = forecastBrief(brief, providers.imageModels, providers.prices, { cheapOnly });
    } catch (err) {
      if (!(err instanceof RoutingError)) throw err;
      throw ApplicationFailure.create({
        message: `invalid brief: ${err.field} ${err.message}`,
        type: INVALID_BRIEF,
        nonRetryable: true,
        details: [[{ field: err.field, message: err.message }]],
      });
    }
    const { route, master, forecast } = planned;
    return {
      brief,
      channels: brief.channels.map((c) => resolveChannel(c)!),
      model: route.model,
      route: { chain: route.chain, reason: route.reason, cheapOnly },
      master,
      prompt,
      promptScore,
      forecast,
      baseSeed: brief.seed ?? hashInt(stableStringify(brief)) % 1_000_000,
      settings: runSettings(config),
    };
}

/**
 * Fetches, checks and stores a validated brief's reference images. A reference no retry can fix
 * (a local path, a host not allowed, a private address, too big, not an image) fails the brief
 * non-retryably with its field named; a server that is down is retried.
 */
export async function resolveBriefReferences(brief: Brief, deps: { blobs: BlobStore; fetcher: ReferenceFetcher; signal?: AbortSignal }): Promise<ResolvedReferences | undefined> {
  try {
    return await resolveReferences(brief, deps);
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    const issue = { field: err.field, message: clip(err.reason, 400) };
    throw ApplicationFailure.create({
      message: `invalid brief: ${issue.field} ${issue.message}`,
      type: INVALID_BRIEF,
      nonRetryable: true,
      details: [[issue]],
    });
  }
}
