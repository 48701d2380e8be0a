export { briefWorkflow } from './brief';
