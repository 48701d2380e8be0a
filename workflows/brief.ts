import type { BriefInput } from '../domain/brief';
import type { Manifest } from '../domain/types';
import { passGates, validate } from './brief/gates';
import { formatAll, manifestDraft, publish, upscaleIfNeeded } from './brief/publish';
import { chooseCandidates } from './brief/review';
import { startRun } from './brief/run';

/**
 * One brief, end to end, as the pipeline reads:
 * validate → gates (prompt score, cost) → rounds of generate → judge → approve (auto, or a
 * person: approve / reject / request changes) → upscale if needed → format → publish.
 * Returns the published (or rejected) manifest. The stages live in workflows/brief/.
 */
export async function briefWorkflow(input: BriefInput): Promise<Manifest> {
  const run = startRun(); // status, message handlers, spans and spend in one holder
  try {
    const plan = await validate(run, input);
    const budgetUsd = await passGates(run, plan);
    const picked = await chooseCandidates(run, plan, budgetUsd);
    if (picked.rejection) return await publish(run, plan, manifestDraft(run, plan, picked));
    const masters = await upscaleIfNeeded(run, plan, picked.approved);
    const formatted = await formatAll(run, plan, picked, masters);
    return await publish(run, plan, manifestDraft(run, plan, picked, formatted, masters));
  } catch (err) {
    await run.fail(err);
    throw err;
  }
}
