/** A brand kit's LoRA on the wire: sent to Flux dev/schnell through their LoRA variants, never to the pro models. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateImageInput } from '../../activities/providers';
import { ReplicateImageGenerator } from '../../activities/providers/replicate';
import { loraRequest } from '../../activities/providers/replicate/options';
import { startFakeReplicate, type FakeReplicate } from './fake-replicate';

const TOKEN = 'r8_FAKEtoken0123456789abcdefghijklmnopqr';
const LORA = { weightsUrl: 'https://huggingface.co/acme/acme-look/resolve/main/lora.safetensors', triggerWord: 'ACMESTYLE', scale: 0.8 };
type CreateBody = { input: Record<string, unknown> };

const genInput = (over: Partial<GenerateImageInput> = {}): GenerateImageInput => ({
  model: 'flux-dev', prompt: 'a ceramic teapot on linen', negativePrompt: 'text', width: 1024, height: 1024, seed: 3, palette: [], ...over,
});

describe('Replicate LoRA mapping', () => {
  let fake: FakeReplicate;
  let gen: ReplicateImageGenerator;
  beforeAll(async () => {
    fake = await startFakeReplicate({ apiToken: TOKEN });
    gen = new ReplicateImageGenerator({ apiToken: TOKEN, baseUrl: fake.baseUrl, timeoutMs: 5000, pollIntervalMs: 20, outputHosts: [`http://${fake.host}`] });
  });
  afterAll(() => fake.close());
  const lastPost = () => fake.requests().filter((r) => r.method === 'POST').at(-1)!;

  it.each([
    ['flux-dev', 'flux-dev-lora'],
    ['flux-schnell', 'flux-schnell-lora'],
  ])('%s with a LoRA runs %s with lora_weights, lora_scale and the trigger word first', async (model, variant) => {
    const out = await gen.generate(genInput({ model, lora: LORA }));
    expect(out.width).toBeGreaterThan(0);
    const req = lastPost();
    expect(req.path).toBe(`/v1/models/black-forest-labs/${variant}/predictions`);
    expect((req.body as CreateBody).input).toMatchObject({ lora_weights: LORA.weightsUrl, lora_scale: 0.8, prompt: 'ACMESTYLE, a ceramic teapot on linen' });
  });

  it('sends no LoRA field to FLUX 1.1 [pro], which takes none, and calls the plain model', async () => {
    await gen.generate(genInput({ model: 'flux-1.1-pro', lora: LORA }));
    const req = lastPost();
    expect(req.path).toBe('/v1/models/black-forest-labs/flux-1.1-pro/predictions');
    const input = (req.body as CreateBody).input;
    expect(input).not.toHaveProperty('lora_weights');
    expect(input).not.toHaveProperty('lora_scale');
    expect(input.prompt).toBe('a ceramic teapot on linen');
  });

  it('without a LoRA, flux-dev runs as before', async () => {
    await gen.generate(genInput());
    expect(lastPost().path).toBe('/v1/models/black-forest-labs/flux-dev/predictions');
    expect((lastPost().body as CreateBody).input).not.toHaveProperty('lora_weights');
  });

  it('does not repeat a trigger word the prompt already has', () => {
    expect(loraRequest('flux-dev', 'acmestyle teapot', LORA)!.prompt).toBe('acmestyle teapot');
    expect(loraRequest('gpt-image-1.5', 'teapot', LORA)).toBeUndefined();
  });
});
