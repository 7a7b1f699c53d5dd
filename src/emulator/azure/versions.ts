// Azure IMDS api-versions and the version each field appeared in (seed 000, "Versions d'API prises
// en charge" and "Décomposition du schéma"). Seed 000 prints two versions as `13-12-2021` and
// `15-11-2021`; seed 001 (and the service) spell them 2021-12-13 and 2021-11-15.

/** Newest first, as the seeds list them. */
export const API_VERSIONS: readonly string[] = [
  '2023-11-15', '2023-07-01', '2021-12-13', '2021-11-15', '2021-11-01', '2021-10-01', '2021-08-01',
  '2021-05-01', '2021-03-01', '2021-02-01', '2021-01-01', '2020-12-01', '2020-10-01', '2020-09-01',
  '2020-07-15', '2020-06-01', '2019-11-01', '2019-08-15', '2019-08-01', '2019-06-04', '2019-06-01',
  '2019-04-30', '2019-03-11', '2019-02-01', '2018-10-01', '2018-04-02', '2018-02-01', '2017-12-01',
  '2017-10-01', '2017-08-01', '2017-04-02', '2017-03-01',
];

/**
 * Scheduled events also answer the versions of their own history (outside the seeds: 2017-11-01
 * added Preempt, 2019-01-01 Terminate, 2019-04-01 Description, 2019-08-01 EventSource,
 * 2020-07-01 DurationInSeconds). IMDS.md's example uses 2020-07-01.
 */
export const SCHEDULED_EVENTS_EXTRA_VERSIONS: readonly string[] = ['2020-07-01', '2019-04-01', '2019-01-01', '2017-11-01'];

export const NEWEST_VERSIONS = API_VERSIONS.slice(0, 3);

/** First api-version of each category (seed 000, "Catégories de points de terminaison"). */
export const CATEGORY_SINCE: Readonly<Record<string, string>> = {
  instance: '2017-04-02',
  scheduledevents: '2017-08-01',
};

/**
 * When each compute field appeared. Paths are dotted; `[]` stands for every element of a list.
 * Fields not listed (for instance ones a scenario adds) are served at every version.
 */
export const COMPUTE_FIELD_SINCE: Readonly<Record<string, string>> = {
  azEnvironment: '2018-10-01',
  additionalCapabilities: '2021-11-01',
  customData: '2019-02-01',
  evictionPolicy: '2020-12-01',
  extendedLocation: '2021-03-01',
  host: '2021-11-15',
  hostGroup: '2021-11-15',
  isHostCompatibilityLayerVm: '2020-06-01',
  licenseType: '2020-09-01',
  location: '2017-04-02',
  name: '2017-04-02',
  offer: '2017-04-02',
  osProfile: '2020-07-15',
  'osProfile.disablePasswordAuthentication': '2020-10-01',
  osType: '2017-04-02',
  physicalZone: '2023-11-15',
  placementGroupId: '2017-08-01',
  plan: '2018-04-02',
  platformUpdateDomain: '2017-04-02',
  platformFaultDomain: '2017-04-02',
  platformSubFaultDomain: '2021-10-01',
  priority: '2020-12-01',
  provider: '2018-10-01',
  publicKeys: '2018-04-02',
  publisher: '2017-04-02',
  resourceGroupName: '2017-08-01',
  resourceId: '2019-03-11',
  sku: '2017-04-02',
  securityProfile: '2020-06-01',
  'securityProfile.encryptionAtHost': '2021-11-01',
  'securityProfile.securityType': '2021-12-13',
  storageProfile: '2019-06-01',
  'storageProfile.imageReference.communityGalleryImageId': '2023-07-01',
  'storageProfile.imageReference.sharedGalleryImageId': '2023-07-01',
  'storageProfile.imageReference.exactVersion': '2023-07-01',
  'storageProfile.dataDisks[].bytesPerSecondThrottle': '2021-05-01',
  'storageProfile.dataDisks[].diskCapacityBytes': '2021-05-01',
  'storageProfile.dataDisks[].isSharedDisk': '2021-05-01',
  'storageProfile.dataDisks[].isUltraDisk': '2021-05-01',
  'storageProfile.dataDisks[].opsPerSecondThrottle': '2021-05-01',
  'storageProfile.osDisk.encryptionSettings.diskEncryptionKey': '2021-11-01',
  'storageProfile.osDisk.encryptionSettings.keyEncryptionKey': '2021-11-01',
  'storageProfile.resourceDisk': '2021-02-01',
  subscriptionId: '2017-08-01',
  tags: '2017-08-01',
  tagsList: '2019-06-04',
  userData: '2021-01-01',
  version: '2017-04-02',
  virtualMachineScaleSet: '2021-03-01',
  vmId: '2017-04-02',
  vmScaleSetName: '2017-12-01',
  vmSize: '2017-04-02',
  zone: '2017-12-01',
};

/** Scheduled-event fields by version (outside the seeds; see SCHEDULED_EVENTS_EXTRA_VERSIONS). */
export const EVENT_FIELD_SINCE: Readonly<Record<string, string>> = {
  Description: '2019-04-01',
  EventSource: '2019-08-01',
  DurationInSeconds: '2020-07-01',
};

/** ISO dates compare as strings. */
export function atLeast(version: string, since: string): boolean {
  return version >= since;
}

export function isInstanceVersion(version: string): boolean {
  return API_VERSIONS.includes(version);
}

export function isScheduledEventsVersion(version: string): boolean {
  return (
    (API_VERSIONS.includes(version) || SCHEDULED_EVENTS_EXTRA_VERSIONS.includes(version)) &&
    atLeast(version, CATEGORY_SINCE.scheduledevents ?? '')
  );
}

/** Drops the fields a client of `version` would not see. */
export function filterByVersion(value: unknown, version: string, since: Readonly<Record<string, string>>, path = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => filterByVersion(item, version, since, `${path}[]`));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const childPath = path ? `${path}.${key}` : key;
    const first = since[childPath];
    if (first !== undefined && !atLeast(version, first)) continue;
    out[key] = filterByVersion(child, version, since, childPath);
  }
  return out;
}
