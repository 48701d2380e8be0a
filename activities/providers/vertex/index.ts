export { ImagenImageGenerator, imagenConfig, type ImagenImageGeneratorOptions } from './image-generator';
export { ImagenUpscaler, imagenUpscaleFactor, IMAGEN_UPSCALE_MAX_INPUT_BYTES } from './upscaler';
export { createVertexClient, vertexRedactor, type VertexClientOptions } from './client';
