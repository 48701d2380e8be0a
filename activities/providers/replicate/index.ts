export { ReplicateImageGenerator, fluxInput, type ReplicateImageGeneratorOptions } from './image-generator';
export { ReplicateUpscaler, type ReplicateUpscaleModel, type ReplicateUpscalerOptions } from './upscaler';
export { DEFAULT_OUTPUT_HOSTS, outputUrlAllowed, parseOutputHosts, type ReplicateClientOptions } from './options';
