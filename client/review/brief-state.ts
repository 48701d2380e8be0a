/** Where a brief is, in the words and flags the brief page (and `darkroom review show`) need. */
import type { BriefStatus } from '../../domain/types';
import type { BriefView } from './actions';

export type BriefStateKind = 'awaiting' | 'working' | 'published' | 'rejected' | 'failed' | 'unknown';

/** What the page's script needs to know to enable the decision panel and to stop polling. */
export interface BriefState {
  kind: BriefStateKind;
  label: string;
  /** True once the workflow has closed: polling stops. */
  done: boolean;
  awaiting: boolean;
  reviewable: string[];
  maxApprovals: number;
  round: number;
  maxRounds: number;
}

const WORKING_LABEL: Partial<Record<BriefStatus['stage'], string>> = {
  validating: 'Validating the brief',
  prompting: 'Building the prompt',
  upscaling: 'Approved — upscaling',
  formatting: 'Approved — formatting assets',
  publishing: 'Approved — publishing',
};

export function briefState(view: BriefView): BriefState {
  const s = view.status;
  const review = s?.review;
  const base = {
    done: view.execution !== 'RUNNING',
    awaiting: false,
    reviewable: [] as string[],
    maxApprovals: review?.maxApprovals ?? 0,
    round: review?.round ?? s?.round ?? 1,
    maxRounds: review?.maxRounds ?? 1,
  };
  if (view.execution === 'COMPLETED') {
    if (view.manifest?.outcome === 'rejected') return { ...base, kind: 'rejected', label: 'Rejected' };
    return { ...base, kind: 'published', label: 'Published' };
  }
  if (view.execution !== 'RUNNING') return { ...base, kind: 'failed', label: view.execution === 'FAILED' ? 'Failed' : `Ended (${view.execution.toLowerCase().replace(/_/g, ' ')})` };
  if (!s) return { ...base, kind: 'unknown', label: 'No worker is answering' };
  if (review?.awaiting) return { ...base, kind: 'awaiting', label: 'Awaiting review', awaiting: true, reviewable: review.reviewable };
  let label = WORKING_LABEL[s.stage];
  if (s.stage === 'generating') label = `Generating round ${s.round} (${s.candidates.generated}/${s.candidates.total})`;
  else if (s.stage === 'judging') label = `Judging round ${s.round}`;
  else if (s.stage === 'review') label = 'Taking the decision';
  return { ...base, kind: 'working', label: label ?? s.stage };
}

