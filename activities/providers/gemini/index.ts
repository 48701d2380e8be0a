export { GeminiImageGenerator, geminiImagePrompt, type GeminiImageGeneratorOptions } from './image-generator';
export { GeminiVisionJudge, GEMINI_JUDGE_WEIGHTS, GEMINI_FIDELITY_WEIGHT, GEMINI_FIDELITY_UNCHECKED, JUDGE_RESPONSE_SCHEMA, FIDELITY_JUDGE_RESPONSE_SCHEMA, judgePrompt, scoreAnswer, type GeminiVisionJudgeOptions } from './vision-judge';
export { GeminiAltTextWriter, altTextPrompt, tidyAltText, type GeminiAltTextWriterOptions } from './alt-text-writer';
export type { GeminiClientOptions } from './client';
export { GEMINI_TOKEN_PRICES, POLICY_FINISH_REASONS, costFromUsage } from './content';
