/**
 * `npm run smoke:providers`: one cheap real call per configured provider, for users with
 * API keys. Never part of `npm test` (this machine has no network). Providers without a key
 * are skipped with a message. Spends about $0.01 in all.
 */
import sharp from 'sharp';
import { parseConfig } from '../domain/config';
import { imagePrice } from '../domain/models';
import type { GenerateImageInput, ImageGenerator } from '../activities/providers';
import { GeminiImageGenerator } from '../activities/providers/gemini';
import { OpenAIImageGenerator } from '../activities/providers/openai';
import { parseOutputHosts, ReplicateImageGenerator } from '../activities/providers/replicate';
import { vertexClientOptions } from '../activities/providers';
import { ImagenImageGenerator } from '../activities/providers/vertex';
import { checkArgs } from './cli-args';

checkArgs(import.meta.filename, {});

const config = parseConfig(process.env);
const timeoutMs = config.DARKROOM_PROVIDER_TIMEOUT;

interface Smoke {
  provider: string;
  key: string;
  model: string;
  size: [number, number];
  make: () => ImageGenerator | undefined;
}

const smokes: Smoke[] = [
  {
    provider: 'OpenAI', key: 'OPENAI_API_KEY', model: 'gpt-image-1-mini', size: [1024, 1024],
    make: () => (config.OPENAI_API_KEY ? new OpenAIImageGenerator({ apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL, timeoutMs, quality: 'low' }) : undefined),
  },
  {
    provider: 'Google Gemini', key: 'GEMINI_API_KEY', model: 'gemini-2.5-flash-image', size: [1024, 1024],
    make: () => (config.GEMINI_API_KEY ? new GeminiImageGenerator({ apiKey: config.GEMINI_API_KEY, baseUrl: config.GEMINI_BASE_URL, timeoutMs }) : undefined),
  },
  {
    provider: 'Replicate', key: 'REPLICATE_API_TOKEN', model: 'flux-schnell', size: [1024, 1024],
    make: () => (config.REPLICATE_API_TOKEN ? new ReplicateImageGenerator({ apiToken: config.REPLICATE_API_TOKEN, baseUrl: config.REPLICATE_BASE_URL, timeoutMs, outputHosts: parseOutputHosts(config.REPLICATE_OUTPUT_HOSTS) }) : undefined),
  },
  {
    provider: 'Google Vertex AI', key: 'GOOGLE_GENAI_USE_VERTEXAI + GOOGLE_CLOUD_PROJECT or DARKROOM_VERTEX_API_KEY', model: 'imagen-4-fast', size: [1024, 1024],
    make: () => {
      const vertex = vertexClientOptions(config);
      return vertex ? new ImagenImageGenerator({ ...vertex, timeoutMs, addWatermark: config.DARKROOM_VERTEX_WATERMARK }) : undefined;
    },
  },
];

async function main(): Promise<number> {
  let failures = 0;
  let ran = 0;
  for (const s of smokes) {
    const generator = s.make();
    if (!generator) {
      console.log(`- ${s.provider}: skipped (${s.key} is not set)`);
      continue;
    }
    ran++;
    const input: GenerateImageInput = {
      model: s.model, prompt: 'a small green houseplant in a white pot on a wooden table, soft daylight', negativePrompt: 'text',
      width: s.size[0], height: s.size[1], seed: 7, palette: [],
    };
    const started = Date.now();
    try {
      const out = await generator.generate(input);
      const meta = await sharp(out.image).metadata();
      console.log(`✔ ${s.provider} ${s.model}: ${meta.width}x${meta.height} ${out.mime}, $${out.costUsd.toFixed(4)} (catalog $${imagePrice(s.model, `${s.size[0]}x${s.size[1]}`, 'low').toFixed(4)}), ${Date.now() - started} ms`);
    } catch (err) {
      failures++;
      console.log(`✘ ${s.provider} ${s.model}: ${(err as Error).name}: ${(err as Error).message}`);
    }
  }
  if (ran === 0) console.log('No provider keys set: nothing to smoke-test. Set OPENAI_API_KEY, GEMINI_API_KEY, REPLICATE_API_TOKEN or Vertex AI (GOOGLE_GENAI_USE_VERTEXAI + GOOGLE_CLOUD_PROJECT, or DARKROOM_VERTEX_API_KEY).');
  return failures ? 1 : 0;
}

main().then((code) => process.exit(code));
