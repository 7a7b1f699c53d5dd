import { describe, expect, it } from '@jest/globals';
import { normalizeAzureCompute } from '../../../src/agent/providers/azure/normalize.js';
import { LIMITS, PayloadError } from '../../../src/agent/providers/validation.js';
import { computeDocument, FAKE_SECRETS } from './azure-documents.js';

describe('normalizeAzureCompute', () => {
  it('maps the compute document to InstanceInfo, zone as <location>-<zone>', () => {
    const { snapshot, vmName } = normalizeAzureCompute(computeDocument());
    expect(vmName).toBe('aks-pool1-12345678-vmss_3');
    expect(snapshot.instance).toEqual({
      id: '02aab8a4-74ef-476e-8182-f6d2ba4166a6',
      name: 'aks-pool1-12345678-vmss_3',
      region: 'westeurope',
      zone: 'westeurope-2',
      faultDomain: '1',
      updateDomain: '3',
      instanceType: 'Standard_D4s_v5',
      priority: 'regular',
      scaleSet: 'aks-pool1-12345678-vmss',
      resourceGroup: 'MC_rg_aks_westeurope',
    });
    expect(snapshot.tags).toEqual([
      { name: 'team', value: 'payments' },
      { name: 'aks-managed-poolName', value: 'pool1' },
    ]);
    expect(snapshot.warnings).toBeUndefined();
  });

  it('never lets userData, customData, publicKeys or osProfile through', () => {
    const text = JSON.stringify(normalizeAzureCompute(computeDocument()));
    for (const secret of FAKE_SECRETS) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/osProfile|publicKeys|userData|customData|subscriptionId/);
  });

  it.each([
    ['SwedenCentral', 'swedencentral', 'swedencentral-2'],
    ['WestEurope', 'westeurope', 'westeurope-2'],
    ['EASTUS2', 'eastus2', 'eastus2-2'],
    ['swedencentral', 'swedencentral', 'swedencentral-2'],
  ])('lower-cases location %s to AKS\'s topology labels: region %s, zone %s', (location, region, zone) => {
    const { snapshot } = normalizeAzureCompute(computeDocument({ location }));
    expect(snapshot.instance.region).toBe(region);
    expect(snapshot.instance.zone).toBe(zone);
    expect(snapshot.warnings).toBeUndefined();
  });

  it('lower-cases the location of a non-zonal VM too, with no zone', () => {
    const { snapshot } = normalizeAzureCompute(computeDocument({ location: 'SwedenCentral', zone: '' }));
    expect(snapshot.instance.region).toBe('swedencentral');
    expect(snapshot.instance.zone).toBeUndefined();
  });

  it('leaves zone out on a non-zonal VM ("" means not applicable)', () => {
    const { snapshot } = normalizeAzureCompute(computeDocument({ zone: '', platformSubFaultDomain: '' }));
    expect(snapshot.instance.zone).toBeUndefined();
    expect(snapshot.instance.subFaultDomain).toBeUndefined();
  });

  it.each([
    ['Spot', 'spot', 'Delete'],
    ['Low', 'low', 'Deallocate'],
    ['regular', 'regular', ''],
  ])('priority %s → %s, eviction policy kept', (priority, expected, eviction) => {
    const { snapshot } = normalizeAzureCompute(computeDocument({ priority, evictionPolicy: eviction }));
    expect(snapshot.instance.priority).toBe(expected);
    expect(snapshot.instance.evictionPolicy).toBe(eviction === '' ? undefined : eviction);
  });

  it('keeps tags holding ";" and ":" intact (tagsList, never the ambiguous tags string)', () => {
    const tagsList = [
      { name: 'owner', value: 'team:a;team:b' },
      { name: 'url', value: 'https://example.com:8443/x;y' },
      { name: 'empty', value: '' },
    ];
    const { snapshot } = normalizeAzureCompute(computeDocument({ tagsList, tags: 'owner:team:a;team:b;url:https://example.com:8443/x;y;empty:' }));
    expect(snapshot.tags).toEqual(tagsList);
  });

  it('bounds a huge tag list and says so', () => {
    const tagsList = Array.from({ length: 5_000 }, (_, i) => ({ name: `tag-${i}`, value: `v${i}` }));
    const { snapshot } = normalizeAzureCompute(computeDocument({ tagsList }));
    expect(snapshot.tags).toHaveLength(LIMITS.maxTags);
    expect(snapshot.warnings?.join('\n')).toMatch(/4936 tags beyond the first 64 dropped/);
  });

  it('drops oversized, duplicate and non-string tags one by one, keeping the rest', () => {
    const tagsList = [
      { name: 'ok', value: 'fine' },
      { name: 'big', value: 'x'.repeat(LIMITS.maxTagValueLength + 1) },
      { name: 'n'.repeat(LIMITS.maxTagNameLength + 1), value: 'v' },
      { name: 'OK', value: 'duplicate, differs only by case' },
      { name: 'num', value: 42 },
      { name: 'ctl', value: 'a\u0000b' },
      'not-an-object',
      null,
    ];
    const { snapshot } = normalizeAzureCompute(computeDocument({ tagsList }));
    expect(snapshot.tags).toEqual([{ name: 'ok', value: 'fine' }]);
    expect(snapshot.warnings?.length).toBeGreaterThanOrEqual(7);
    expect(snapshot.warnings?.join('\n')).not.toContain('x'.repeat(300));
  });

  it('treats a missing or non-list tagsList as "tags unknown" with a warning', () => {
    const a = normalizeAzureCompute(computeDocument({ tagsList: undefined }));
    expect(a.snapshot.tags).toBeUndefined();
    expect(a.snapshot.warnings?.[0]).toMatch(/tagsList: absent/);
    const b = normalizeAzureCompute(computeDocument({ tagsList: 'team:payments' }));
    expect(b.snapshot.tags).toBeUndefined();
    expect(b.snapshot.warnings?.[0]).toMatch(/expected a list/);
  });

  it('drops non-string primitives field by field with a warning (IMDS serves strings only)', () => {
    const { snapshot } = normalizeAzureCompute(computeDocument({ platformFaultDomain: 1, platformUpdateDomain: true, vmSize: null, location: { x: 1 } }));
    expect(snapshot.instance.faultDomain).toBeUndefined();
    expect(snapshot.instance.updateDomain).toBeUndefined();
    expect(snapshot.instance.instanceType).toBeUndefined();
    expect(snapshot.instance.region).toBeUndefined();
    expect(snapshot.instance.zone).toBeUndefined();
    expect(snapshot.warnings).toEqual(
      expect.arrayContaining([
        'compute.platformFaultDomain: expected a string, got a number; ignored',
        'compute.platformUpdateDomain: expected a string, got a boolean; ignored',
        'compute.location: expected a string, got an object; ignored',
      ]),
    );
  });

  it('warns about an unknown priority instead of guessing', () => {
    const { snapshot } = normalizeAzureCompute(computeDocument({ priority: 'Premium' }));
    expect(snapshot.instance.priority).toBeUndefined();
    expect(snapshot.warnings?.[0]).toMatch(/priority: unknown value/);
  });

  it.each([null, [], 'compute', 42])('refuses a compute document that is %j', (doc) => {
    expect(() => normalizeAzureCompute(doc)).toThrow(PayloadError);
  });
});
