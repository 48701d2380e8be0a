/**
 * What a reviewer can do, as plain functions over a Temporal client: find the briefs
 * waiting for review, read one, decide, approve many at once. The reviewer web tool and the
 * `darkroom review`/`approve`/`reject`/`revise` commands both call these, so they find the same
 * briefs and report the same refusals.
 */
export * from './decisions';
export * from './filter';
export * from './queries';
