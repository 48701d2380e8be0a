export { startReviewServer, type ReviewServer, type ReviewServerOptions } from './server';
export * from './actions';
