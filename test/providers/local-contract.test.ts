import { LocalAltTextWriter, LocalImageGenerator, LocalVisionJudge, SharpUpscaler } from '../../activities/providers/local';
import { runImageGeneratorContract } from './contract/image-generator';
import { runAltTextContract, runUpscalerContract, runVisionJudgeContract } from './contract/others';

// The offline implementations run the same suites as the vendor adapters; having no wire,
// they have no fault cases.
const noop = async () => {};
runImageGeneratorContract('local', async () => ({ impl: new LocalImageGenerator(), close: noop }), { model: 'local', width: 512, height: 384 });
runVisionJudgeContract('local-judge', async () => ({ impl: new LocalVisionJudge(), close: noop }));
runUpscalerContract('sharp-lanczos', async () => ({ impl: new SharpUpscaler(), close: noop }));
runAltTextContract('local-alt-text', async () => ({ impl: new LocalAltTextWriter(), close: noop }));
