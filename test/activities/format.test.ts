import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_PRESETS, FORMAT_MIME, resolveChannel, type ChannelPreset, type ImageFormat } from '../../domain/channels';
import { channelCrop, decodeMaster, formatForChannels, probeImage, withJfifDensity, withPngDensity, type FormattedImage } from '../../activities/images/format';
import { imageStats } from '../../activities/images/stats';
import { LocalImageGenerator, SharpUpscaler } from '../../activities/providers/local';

const MASTER_WIDTH = 800;
const MASTER_HEIGHT = 600;
const XMP = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:rights>secret</dc:rights></rdf:Description></rdf:RDF></x:xmpmeta>`;

/** Fine, saturated stripes inside a box: the kind of region an attention crop should keep. */
function detailedObject(x: number, y: number, w: number, h: number): string {
  const stripes: string[] = [];
  for (let i = 0; i < w; i += 6) stripes.push(`<rect x="${x + i}" y="${y}" width="3" height="${h}" fill="${i % 12 ? '#E4003A' : '#00A651'}"/>`);
  for (let j = 0; j < h; j += 10) stripes.push(`<rect x="${x}" y="${y + j}" width="${w}" height="2" fill="#FFD400"/>`);
  return stripes.join('');
}

/** A smooth gradient scene with one high-detail object; `objectX` is its left edge. */
function scene(width: number, height: number, objectX: number, objectWidth: number): Buffer {
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#8FA3B8"/><stop offset="1" stop-color="#5C6F82"/></linearGradient></defs>` +
      `<rect width="${width}" height="${height}" fill="url(#g)"/>${detailedObject(objectX, Math.round(height * 0.3), objectWidth, Math.round(height * 0.4))}</svg>`,
  );
}

const MAGIC: Record<ImageFormat, (b: Buffer) => boolean> = {
  jpeg: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  png: (b) => b.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47])),
  webp: (b) => b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP',
  avif: (b) => b.toString('latin1', 4, 12) === 'ftypavif',
  tiff: (b) => b.subarray(0, 4).equals(Buffer.from('II*\0', 'latin1')) || b.subarray(0, 4).equals(Buffer.from('MM\0*', 'latin1')),
};

const SHARP_FORMAT: Record<ImageFormat, string> = { jpeg: 'jpeg', png: 'png', webp: 'webp', avif: 'heif', tiff: 'tiff' };

describe('formatForChannels', () => {
  const channels: ChannelPreset[] = [...Object.values(CHANNEL_PRESETS), resolveChannel('custom-1600x900')!];
  let master: Buffer;
  let outputs: FormattedImage[];
  let ms: number;

  beforeAll(async () => {
    // A JPEG master carrying EXIF (with GPS) and XMP, all of which must be stripped.
    master = await sharp(scene(MASTER_WIDTH, MASTER_HEIGHT, 560, 160))
      .jpeg({ quality: 90 })
      .withExif({ IFD0: { Copyright: 'secret', Make: 'Cam' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 3230/100' } })
      .withXmp(XMP)
      .toBuffer();
    const started = performance.now();
    outputs = await formatForChannels(master, channels);
    ms = performance.now() - started;
  });

  it('starts from a master that really has EXIF and XMP', async () => {
    const meta = await sharp(master).metadata();
    expect(meta.exif).toBeDefined();
    expect(meta.exif!.includes('secret')).toBe(true);
    expect(meta.xmp).toBeDefined();
    expect(master.includes('secret')).toBe(true);
  });

  it("encodes every channel's formats, in order, at exactly the channel's size", async () => {
    expect(outputs.map((o) => `${o.channel}.${o.format}`)).toEqual(channels.flatMap((c) => c.formats.map((f) => `${c.id}.${f}`)));
    for (const o of outputs) {
      const channel = channels.find((c) => c.id === o.channel)!;
      const meta = await sharp(o.data).metadata();
      expect([o.channel, meta.width, meta.height]).toEqual([channel.id, channel.width, channel.height]);
      expect([o.width, o.height]).toEqual([channel.width, channel.height]);
      expect(meta.format).toBe(SHARP_FORMAT[o.format]);
      expect(o.mime).toBe(FORMAT_MIME[o.format]);
    }
    // Reported so a slow encoder shows up in the test log, not asserted (machines differ).
    console.log(`formatForChannels: ${channels.length} channels, ${outputs.length} files in ${Math.round(ms)} ms`);
  });

  it('writes every format with its real magic bytes', () => {
    const seen = new Set<ImageFormat>();
    for (const o of outputs) {
      expect(MAGIC[o.format](o.data), `${o.channel}.${o.format}`).toBe(true);
      seen.add(o.format);
    }
    expect([...seen].sort()).toEqual(['avif', 'jpeg', 'png', 'tiff', 'webp']);
  });

  it('strips EXIF, GPS, XMP and IPTC from every output', async () => {
    for (const o of outputs) {
      const meta = await sharp(o.data).metadata();
      expect(meta.exif, `${o.channel}.${o.format} exif`).toBeUndefined();
      expect(meta.xmp, `${o.channel}.${o.format} xmp`).toBeUndefined();
      expect(meta.iptc, `${o.channel}.${o.format} iptc`).toBeUndefined();
      expect(o.data.includes('secret'), `${o.channel}.${o.format} bytes`).toBe(false);
    }
  });

  it('writes 300 dpi into print files and 72 dpi into screen PNG and JPEG files', async () => {
    const print = outputs.filter((o) => o.channel === 'print-a4');
    expect(print.map((o) => o.format)).toEqual(['tiff', 'png']);
    for (const o of outputs) {
      const meta = await sharp(o.data).metadata();
      if (o.channel === 'print-a4') {
        expect(meta.density, `${o.format}`).toBe(300);
        expect(o.density).toBe(300);
      } else if (o.format === 'png' || o.format === 'jpeg') {
        expect(meta.density, `${o.channel}.${o.format}`).toBe(72);
        expect(o.density).toBe(72);
      }
    }
  });

  it('records a crop box inside the master with the channel aspect, and the share it kept', () => {
    for (const o of outputs) {
      const { left, top, width, height } = o.crop;
      expect(left).toBeGreaterThanOrEqual(0);
      expect(top).toBeGreaterThanOrEqual(0);
      expect(left + width).toBeLessThanOrEqual(MASTER_WIDTH);
      expect(top + height).toBeLessThanOrEqual(MASTER_HEIGHT);
      // Cover always fills one dimension of the master.
      expect(width === MASTER_WIDTH || height === MASTER_HEIGHT).toBe(true);
      expect(Math.abs(width / height - o.width / o.height)).toBeLessThan(0.01);
      expect(o.cropKept).toBeGreaterThan(0);
      expect(o.cropKept).toBeLessThanOrEqual(1);
      expect(o.cropKept).toBeCloseTo((width * height) / (MASTER_WIDTH * MASTER_HEIGHT), 6);
    }
    const square = outputs.find((o) => o.channel === 'instagram-square')!;
    expect(square.crop).toMatchObject({ width: 600, height: 600, top: 0 });
    expect(square.cropKept).toBeCloseTo(0.75, 6);
  });

  it('keeps the detailed object in narrow crops (attention, not centre)', () => {
    // The object spans x 560–720; a centred 9:16 crop of this master would be x 231–569.
    const story = outputs.find((o) => o.channel === 'story-9x16')!;
    expect(story.crop.left).toBeLessThanOrEqual(560);
    expect(story.crop.left + story.crop.width).toBeGreaterThanOrEqual(720);
  });
});

describe('formatForChannels: smart crop, orientation and options', () => {

  it('follows the salient object to either side of a wide master, and reports the crop in master pixels', async () => {
    // custom-150x200 from 1200x400: cover scales by 0.5, so a 300x400 window of the master is kept.
    const small = resolveChannel('custom-150x200')!;
    for (const objectX of [60, 950]) {
      const master = await sharp(scene(1200, 400, objectX, 150)).png().toBuffer();
      const [out] = await formatForChannels(master, [{ ...small, formats: ['png'] }]);
      const { left, width, height } = out!.crop;
      expect([width, height]).toEqual([300, 400]);
      expect(left).toBeLessThanOrEqual(objectX);
      expect(left + width).toBeGreaterThanOrEqual(objectX + 150);
      // The box is the truth: cutting it from the master and resizing gives the output's pixels.
      const fromBox = await sharp(master).extract(out!.crop).resize(150, 200).removeAlpha().raw().toBuffer();
      const output = await sharp(out!.data).removeAlpha().raw().toBuffer();
      let diff = 0;
      for (let i = 0; i < output.length; i++) diff += Math.abs((output[i] as number) - (fromBox[i] as number));
      expect(diff / output.length).toBeLessThan(6);
      // And the crop holds far more detail than a centred crop would.
      const centre = await sharp(master).extract({ left: 450, top: 0, width: 300, height: 400 }).resize(150, 200).png().toBuffer();
      const [kept, centred] = await Promise.all([imageStats(out!.data), imageStats(centre)]);
      expect(kept.laplacianVariance).toBeGreaterThan(10 * centred.laplacianVariance + 100);
    }
  });

  it('cuts with channelCrop, the one crop the reviewer\'s preview also calls: same box, same pixels as the PNG it ships', async () => {
    // Large enough that attention is scored on a shrunk copy of the master (1000 px on its shorter side),
    // and stored on its side with an EXIF orientation that turns it back to 2400x1600.
    const master = await sharp(await sharp(scene(2400, 1600, 1900, 300)).rotate(270).toBuffer()).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const ids = ['custom-150x200', 'story-9x16', 'web-hero'];
    // The stage cuts every channel from one decode; the preview decodes for one channel. A box must not depend on the other channels.
    const shipped = await formatForChannels(master, ids.map((id) => ({ ...resolveChannel(id)!, formats: ['png'] as const })));
    for (const [i, id] of ids.entries()) {
      const channel = resolveChannel(id)!;
      const out = shipped[i]!;
      // As the preview opens a JPEG (one cut, read from the file) and as the stage does (decoded to raw pixels).
      for (const oneCut of [true, false]) {
        const cut = await channelCrop(await decodeMaster(master, { oneCut }), channel);
        expect({ id, oneCut, crop: cut.crop, kept: cut.cropKept }).toEqual({ id, oneCut, crop: out.crop, kept: out.cropKept });
        expect([cut.raw.width, cut.raw.height]).toEqual([channel.width, channel.height]);
        expect((await sharp(out.data).raw().toBuffer()).equals(cut.raw.data)).toBe(true);
      }
    }
    expect(shipped[1]!.crop.left, 'the 9:16 cut goes to the busy object at the right').toBeGreaterThan(1200);
  });

  it('decides an attention crop on the channel\'s shape, not its size: a 9:16 channel at three sizes cuts one box', async () => {
    // A generated master with two busy areas (the glass and the window light), where scoring
    // attention at each channel's own size once picked a different side for 1080x1920 (left 1750)
    // than for 540x960 and 2160x3840 (left ~235).
    const image = await new LocalImageGenerator().generate({
      model: 'local', prompt: 'a glass of iced coffee', negativePrompt: 'text', width: 640, height: 360, seed: 118,
      palette: ['#0B3D91', '#F4B400', '#DB4437'], composition: 'rule of thirds', lighting: 'soft window light from the left',
    });
    const master = (await new SharpUpscaler().upscale({ image: image.image, minWidth: 2560, minHeight: 1440 })).image;
    const decoded = await decodeMaster(master);
    const boxes = [];
    for (const [width, height] of [[540, 960], [1080, 1920], [2160, 3840]] as const) boxes.push((await channelCrop(decoded, { width, height })).crop);
    expect(boxes[1]).toEqual(boxes[0]);
    expect(boxes[2]).toEqual(boxes[0]);
  });

  it('keeps a focus region (the product) whole when the channel has room for it, where attention would cut elsewhere', async () => {
    // The busy object (what attention picks) at the right; a plain "product" block at the left.
    const svg = Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="400"><rect width="1200" height="400" fill="#7d8fa3"/>` +
        `<rect x="60" y="120" width="120" height="220" fill="#6e8094"/>${detailedObject(950, 120, 150, 160)}</svg>`,
    );
    const master = await sharp(svg).png().toBuffer();
    const focus = { left: 60 / 1200, top: 120 / 400, width: 120 / 1200, height: 220 / 400 };
    const channel = { ...resolveChannel('story-9x16')!, formats: ['png'] as const };
    const [plain] = await formatForChannels(master, [channel]);
    expect(plain!.crop.left, 'attention crop goes to the busy object').toBeGreaterThan(700);
    expect(plain!.productKept).toBeUndefined();
    const [focused] = await formatForChannels(master, [channel], { focus });
    // 1200x400 into 9:16 keeps 225x400: centred on the block (x 60–180), clamped to the left edge.
    expect(focused!.crop).toEqual({ left: 8, top: 0, width: 225, height: 400 });
    expect(focused!.productKept).toBe(1);
    expect([focused!.width, focused!.height]).toEqual([1080, 1920]);
    const cut = await channelCrop(await decodeMaster(master), channel, focus);
    expect(cut.crop).toEqual(focused!.crop);
    expect((await sharp(focused!.data).raw().toBuffer()).equals(cut.raw.data)).toBe(true);

    // A region wider than the crop can hold: centred on it, and the share kept says how much.
    const wide = { left: 0.1, top: 0.2, width: 0.5, height: 0.5 };
    const [cutWide] = await formatForChannels(master, [channel], { focus: wide });
    expect(cutWide!.crop.left).toBe(Math.round(0.35 * 1200 - 225 / 2));
    expect(cutWide!.productKept).toBeCloseTo(225 / 600, 2);
  });

  it('crops in the oriented frame of a master with an EXIF orientation', async () => {
    // Stored 400x200 and rotated 90° by its Orientation tag: a 200x400 picture.
    const master = await sharp(scene(400, 200, 150, 100)).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect((await probeImage(master)).width).toBe(200);
    const [out] = await formatForChannels(master, [{ ...resolveChannel('custom-100x200')!, formats: ['jpeg'] }]);
    expect(out!.crop).toEqual({ left: 0, top: 0, width: 200, height: 400 });
    expect(out!.cropKept).toBe(1);
    expect((await sharp(out!.data).metadata()).orientation).toBeUndefined();
  });

  it('takes encoder quality from the options', async () => {
    const master = await sharp(scene(600, 400, 300, 150)).png().toBuffer();
    const channel = { ...resolveChannel('custom-600x400')!, formats: ['jpeg', 'webp'] as const };
    const [jpegDefault, webpDefault] = await formatForChannels(master, [channel]);
    const [jpegLow, webpLow] = await formatForChannels(master, [channel], { quality: { jpeg: 30, webp: 30 } });
    expect(jpegLow!.data.length).toBeLessThan(jpegDefault!.data.length * 0.8);
    expect(webpLow!.data.length).toBeLessThan(webpDefault!.data.length * 0.8);
  });

  it('stops when its signal is aborted', async () => {
    const master = await sharp(scene(200, 100, 50, 50)).png().toBuffer();
    const controller = new AbortController();
    controller.abort();
    await expect(formatForChannels(master, [resolveChannel('custom-300x400')!], { signal: controller.signal })).rejects.toThrow(/abort/i);
  });
});

describe('density without EXIF', () => {
  const pixels = () => sharp({ create: { width: 32, height: 16, channels: 3, background: '#336699' } });

  it('sets the pHYs density of a PNG and drops its EXIF and text chunks', async () => {
    const tagged = await pixels().png().withExif({ IFD0: { Copyright: 'secret' } }).toBuffer();
    expect((await sharp(tagged).metadata()).exif).toBeDefined();
    const out = withPngDensity(tagged, 300);
    const meta = await sharp(out).metadata();
    expect(meta.density).toBe(300);
    expect(meta.exif).toBeUndefined();
    expect(out.includes('secret')).toBe(false);
    // Same pixels: only chunks around the image data changed.
    expect((await sharp(out).raw().toBuffer()).equals(await sharp(tagged).raw().toBuffer())).toBe(true);
  });

  it('writes a JFIF density into a JPEG and drops its EXIF and XMP segments', async () => {
    const tagged = await pixels().jpeg().withExif({ IFD0: { Copyright: 'secret' } }).withXmp(XMP).toBuffer();
    const out = withJfifDensity(tagged, 150);
    const meta = await sharp(out).metadata();
    expect(meta.density).toBe(150);
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(out.includes('secret')).toBe(false);
    expect((await sharp(out).raw().toBuffer()).equals(await sharp(tagged).raw().toBuffer())).toBe(true);
  });
});

describe('probeImage', () => {
  it('names the format and MIME type of each encoding, AVIF included', async () => {
    const image = sharp({ create: { width: 40, height: 30, channels: 3, background: '#F2A541' } });
    for (const format of ['jpeg', 'png', 'webp', 'avif', 'tiff'] as const) {
      const probe = await probeImage(await image.clone().toFormat(format).toBuffer());
      expect(probe).toEqual({ width: 40, height: 30, format, mime: FORMAT_MIME[format] });
    }
  });
});
