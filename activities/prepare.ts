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
import { logoRuleFor, placeLogo, type LogoBox } from '../domain/brand';
import { bannedWordIssues } from '../domain/brand-words';
import type { PreparedBrand } from '../domain/types';
import { BrandKitError, resolveBrandKit } from './brands';
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
export async function prepareBrief(
  input: PrepareBriefInput,
  providers: Pick<ProviderRegistry, 'imageModels' | 'prices'>,
  config: Config,
  blobs?: BlobStore,
): Promise<Omit<PreparedBrief, 'timing'>> {
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
    // Bounded whatever the input: a failure larger than gRPC's 4 MB never reaches the server.
    if (!parsed.ok) throw invalidBrief(parsed.issues);
    const brief = parsed.brief;
    const brand = brief.brand ? await prepareBrand(brief, blobs, config) : undefined;
    const prompt = buildPrompt(brief, [], brand?.prompt);
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
      ...(brand ? { brand } : {}),
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
    throw invalidBrief([{ field: err.field, message: err.reason }]);
  }
}

/** An invalid brief, as every door reports one: non-retryable, each problem naming its field. */
function invalidBrief(issues: ReadonlyArray<{ field: string; message: string }>): ApplicationFailure {
  const shown = issues.slice(0, MAX_ISSUES).map((i) => ({ field: clip(i.field, 120), message: clip(i.message, 300) }));
  const more = issues.length - shown.length;
  return ApplicationFailure.create({
    message: `invalid brief: ${shown.map((i) => `${i.field} ${i.message}`).join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
    type: INVALID_BRIEF,
    nonRetryable: true,
    details: [shown],
  });
}

/**
 * Loads the brief's kit (the stored one its brandKey names, else DARKROOM_BRANDS_DIR's), refuses
 * a subject or must-include that uses a banned word, and places the logo on every channel: a
 * channel without room for the kit's minimum logo size fails the brief here, before any spend.
 */
async function prepareBrand(brief: PreparedBrief['brief'], blobs: BlobStore | undefined, config: Config): Promise<PreparedBrand> {
  const name = brief.brand!;
  if (!blobs) throw new Error('prepareBrief: a brief with a brand needs the blob store');
  let resolved;
  try {
    resolved = await resolveBrandKit(blobs, config.DARKROOM_BRANDS_DIR, { name, key: brief.brandKey });
  } catch (err) {
    if (err instanceof BrandKitError) throw invalidBrief(err.issues);
    throw err;
  }
  const { key, stored } = resolved;
  const { kit, logo } = stored;
  const issues = bannedWordIssues(brief, kit.style.banned, name);
  const placements: Record<string, LogoBox> = {};
  for (const id of brief.channels) {
    const channel = resolveChannel(id)!;
    const placed = placeLogo(channel, logo, logoRuleFor(kit.logo, id));
    if (placed.ok) placements[id] = placed.box;
    else issues.push({ field: 'brand', message: `${name}'s logo does not fit: ${placed.reason}` });
  }
  if (issues.length) throw invalidBrief(issues);
  return {
    name, key, logo, placements,
    prompt: { palette: kit.palette, style: { approved: kit.style.approved, banned: kit.style.banned } },
    ...(kit.lora ? { lora: kit.lora } : {}),
    styleReferences: stored.styleReferences,
  };
}
