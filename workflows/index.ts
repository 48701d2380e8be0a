export { briefWorkflow } from './brief';
export { catalogWorkflow } from './catalog';
