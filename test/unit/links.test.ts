import { describe, expect, it } from 'vitest';
import { temporalUi, uiQuery, uiWorkflow } from '../../client/links';

const at = (TEMPORAL_ADDRESS: string, more: { TEMPORAL_UI_URL?: string; TEMPORAL_NAMESPACE?: string } = {}) => ({ TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: 'default', ...more });

describe('Temporal Web UI links', () => {
  it('follow the frontend port (+1000), not a fixed 8233', () => {
    expect(temporalUi(at('localhost:7233'))).toBe('http://localhost:8233/namespaces/default');
    expect(temporalUi(at('127.0.0.1:17233'))).toBe('http://localhost:18233/namespaces/default');
    expect(temporalUi(at('temporal.internal:7400'))).toBe('http://temporal.internal:8400/namespaces/default');
    expect(temporalUi(at('[::1]:7233'))).toBe('http://[::1]:8233/namespaces/default');
    expect(temporalUi(at('temporal'))).toBe('http://temporal:8233/namespaces/default');
  });

  it('use TEMPORAL_UI_URL when set, and escape what they carry', () => {
    const config = at('temporal-frontend:7233', { TEMPORAL_UI_URL: 'https://temporal.example.com/', TEMPORAL_NAMESPACE: 'prod' });
    expect(uiWorkflow(config, 'catalog-a/sku 1')).toBe('https://temporal.example.com/namespaces/prod/workflows/catalog-a%2Fsku%201');
    expect(uiQuery(config, "X = 'y'")).toBe("https://temporal.example.com/namespaces/prod/workflows?query=X%20%3D%20'y'");
  });
});
