export { ReplicateImageGenerator, fluxInput, replicateFamily, replicateInput, type ReplicateFamily, type ReplicateImageGeneratorOptions } from './image-generator';
export { ReplicateUpscaler, type ReplicateUpscaleModel, type ReplicateUpscalerOptions } from './upscaler';
export { DEFAULT_OUTPUT_HOSTS, outputUrlAllowed, parseOutputHosts, type ReplicateClientOptions } from './options';
