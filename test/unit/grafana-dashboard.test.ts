import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../activities/metrics';

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}

const dashboard = JSON.parse(readFileSync('deploy/grafana/darkroom-dashboard.json', 'utf8')) as { title: string; panels: Panel[] };

// PromQL words that are not metric names; anything else in an expression has to be a metric Darkroom exports.
const PROMQL = new Set(['sum', 'max', 'min', 'avg', 'count', 'rate', 'irate', 'increase', 'histogram_quantile', 'topk', 'bottomk', 'by', 'without', 'on', 'ignoring', 'and', 'or', 'unless', 'offset', 'clamp_min', 'sort_desc']);

/** The metric names an expression reads: label matchers, ranges and grouping labels set aside. */
function metricsIn(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/[a-zA-Z_:][\w:]*/g)].map((m) => m[0]).filter((t) => !PROMQL.has(t));
}

async function exported(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await new Metrics().registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
  }
  return names;
}

describe('deploy/grafana/darkroom-dashboard.json', () => {
  it('is a dashboard whose every panel queries only metrics Darkroom exports', async () => {
    const names = await exported();
    expect(dashboard.title).toBe('Darkroom');
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(6);
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets!) {
        const metrics = metricsIn(expr);
        expect(metrics.length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
        for (const m of metrics) {
          expect(names.has(m), `${panel.title}: ${m} is not a metric Darkroom exports`).toBe(true);
          used.add(m.replace(/_(bucket|sum|count)$/, ''));
        }
      }
    }
    // Every metric has a panel.
    expect([...used].sort()).toEqual([...new Set([...names].map((n) => n.replace(/_(bucket|sum|count)$/, '')))].sort());
  });

  it('the check catches a name Darkroom does not export', async () => {
    const names = await exported();
    expect(metricsIn('sum by (model) (rate(darkroom_image_generated_total{model="local"}[5m])) * 60').filter((m) => !names.has(m))).toEqual(['darkroom_image_generated_total']);
  });
});
