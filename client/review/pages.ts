/**
 * The reviewer tool's pages, rendered on the server with the escaping `html` tag (./html.ts).
 * The parts that change while a brief moves on (its candidates, rounds, decisions, outcome) are
 * "fragments" the page's script fetches again as JSON and swaps in, so all HTML — and all
 * escaping — happens on the server.
 */
export { briefFragment, briefFragmentData, briefPage, type BriefFragment } from './brief-page';
export { THUMB_WIDTH } from './brief-sections';
export { briefState, type BriefState, type BriefStateKind } from './brief-state';
export { errorPage, loginNeededPage } from './layout';
export { queueFragment, queuePage, type QueueData } from './queue-page';
