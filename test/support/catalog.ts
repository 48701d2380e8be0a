import type { Client, WorkflowHandle } from '@temporalio/client';
import { createBlobStore, type BlobStore } from '../../activities/blob-store';
import type { catalogWorkflow, CatalogInput } from '../../workflows/catalog';

/** A small, valid brief template for catalog tests: one tiny channel, one candidate per row. */
export const testTemplate = {
  subject: 'studio product shot: {color} {name}',
  channels: ['email-header'],
  brandColors: ['{hex}'],
  mustAvoid: ['text'],
  styleHints: ['editorial product photography'],
  composition: 'product centred on a seamless backdrop',
  lighting: 'soft diffused studio light from the upper left',
  camera: 'full-frame mirrorless',
  lens: '90mm macro',
  candidates: 1,
  topK: 1,
};

const COLORS: Array<[string, string]> = [['sage green', '#9CAF88'], ['washed navy', '#2C3E63'], ['rust', '#B7472A'], ['oat', '#D8C8A8'], ['charcoal', '#36454F']];

/** A CSV feed of `n` valid product rows (SKU-0001 …). */
export function productFeed(n: number): string {
  const lines = ['sku,name,color,hex'];
  for (let i = 1; i <= n; i++) {
    const [color, hex] = COLORS[i % COLORS.length]!;
    lines.push(`SKU-${String(i).padStart(4, '0')},"cotton tote bag, style ${i}",${color},${hex}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Stores a feed where the workers' blob store reads it (`blobs`, or the fs store under `dataDir`), and starts the catalog. */
export async function startCatalog(client: Client, opts: { dataDir: string; taskQueue: string; catalogId: string; feed: string; template?: unknown; blobs?: BlobStore } & Partial<Omit<CatalogInput, 'feedKey' | 'template' | 'catalogId'>>): Promise<WorkflowHandle<typeof catalogWorkflow>> {
  const { dataDir, taskQueue, catalogId, feed, template, blobs, ...rest } = opts;
  const feedKey = `catalogs/${catalogId}/feed.csv`;
  await (blobs ?? createBlobStore({ DARKROOM_DATA_DIR: dataDir })).put(feedKey, new TextEncoder().encode(feed), { mime: 'text/csv' });
  return client.workflow.start<typeof catalogWorkflow>('catalogWorkflow', {
    taskQueue,
    workflowId: `catalog-${catalogId}`,
    args: [{ catalogId, feedKey, template: template ?? testTemplate, ...rest }],
  });
}

/** Parses the report CSV (no quoted newlines in it). */
export function parseReport(csv: string): Array<Record<string, string>> {
  const [head, ...rows] = csv.trim().split('\n');
  const cols = head!.split(',');
  return rows.map((line) => {
    const cells: string[] = [];
    let cur = '';
    let q = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (q) {
        if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') q = false; else cur += ch;
      } else if (ch === '"') q = true;
      else if (ch === ',') { cells.push(cur); cur = ''; } else cur += ch;
    }
    cells.push(cur);
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']));
  });
}
