export { LocalImageGenerator } from './image-generator';
export { parseComposition, parseLighting } from './scene-plan';
export { LocalVisionJudge, LOCAL_JUDGE_WEIGHTS, scoreStats, uncheckedChecks } from './vision-judge';
export { SharpUpscaler, upscaleTarget } from './upscaler';
export { LocalAltTextWriter, altTextFromBrief, ALT_TEXT_TARGET_LENGTH } from './alt-text-writer';
export { ChainModerator, WordListModerator } from './moderator';
