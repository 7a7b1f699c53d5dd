// Realistic default metadata for an AKS node: a VM of a uniform scale set in westeurope, zonal,
// with the secret-bearing fields (userData, customData, publicKeys, osProfile) filled with fake
// values so tests can prove a client never reads or leaks them.
// Shape: the /metadata/instance response of seed 000 ("Réponse"), every primitive a string,
// inapplicable values "" ("Les valeurs manquantes ... définies sur une chaîne vide").

import type { Tag } from '../../api/observation.js';
import { guidFrom, hexFrom } from '../fake-ids.js';

export const AZURE_SCALE_SET = 'aks-pool1-12345678-vmss';
const SUBSCRIPTION = '3f2c9a7e-5b1d-4c8e-9a6f-0d1e2f3a4b5c';
const RESOURCE_GROUP = 'MC_rg-nodemeta_aks-nodemeta_westeurope';

/** Scale-set instance names as AKS gives them to nodes: `<scale set><instance id, base 36, 6 digits>`. */
export function defaultAzureVmName(index: number): string {
  return `${AZURE_SCALE_SET}${index.toString(36).padStart(6, '0')}`;
}

export const DEFAULT_AZURE_TAGS: readonly Tag[] = [
  { name: 'aks-managed-poolName', value: 'pool1' },
  { name: 'aks-managed-orchestrator', value: 'Kubernetes:1.31.2' },
  { name: 'aks-managed-createOperationID', value: '7b0e9c4d-2f1a-4e3b-8c5d-6a7b8c9d0e1f' },
  { name: 'team', value: 'payments' },
  { name: 'maintenance-window', value: 'sat 02:00-04:00;sun 02:00-04:00' },
];

export interface AzureVmData {
  compute: Record<string, unknown>;
  network: Record<string, unknown>;
}

/**
 * A node named `aks-pool1-12345678-vmss00000a` is instance 10 of scale set
 * `aks-pool1-12345678-vmss`; IMDS calls it `aks-pool1-12345678-vmss_10` (compute.name, and the name
 * scheduled events list in Resources) while the OS, and so Kubernetes, calls it by the node name
 * (osProfile.computerName). Any other name is a standalone VM whose compute.name is the name.
 */
export function defaultAzureVm(name: string, fallbackIndex: number): AzureVmData {
  const scaleSetMatch = /^(.+vmss)([0-9a-z]{6})$/.exec(name);
  const scaleSet = scaleSetMatch?.[1] ?? '';
  const instanceId = scaleSetMatch ? parseInt(scaleSetMatch[2] ?? '0', 36) : fallbackIndex;
  const computeName = scaleSetMatch ? `${scaleSet}_${instanceId}` : name;
  const zone = String((instanceId % 3) + 1);
  const resourceId = scaleSetMatch
    ? `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Compute/virtualMachineScaleSets/${scaleSet}/virtualMachines/${instanceId}`
    : `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Compute/virtualMachines/${name}`;
  const host = 4 + (instanceId % 250);
  const compute: Record<string, unknown> = {
    azEnvironment: 'AzurePublicCloud',
    additionalCapabilities: { hibernationEnabled: 'false' },
    customData: 'I2Nsb3VkLWNvbmZpZwpub2RlbWV0YS1lbXVsYXRvcjogZmFrZS1jdXN0b20tZGF0YS1zZWNyZXQK',
    evictionPolicy: '',
    extendedLocation: { type: '', name: '' },
    hostGroup: { id: '' },
    isHostCompatibilityLayerVm: 'false',
    licenseType: '',
    location: 'westeurope',
    name: computeName,
    offer: '',
    osProfile: {
      adminUsername: 'azureuser',
      computerName: name,
      disablePasswordAuthentication: 'true',
    },
    osType: 'Linux',
    physicalZone: `westeurope-AZ0${zone}`,
    placementGroupId: guidFrom(`placement-group:${scaleSet || name}`),
    plan: { name: '', product: '', publisher: '' },
    platformFaultDomain: String(Math.floor(instanceId / 3) % 5),
    platformSubFaultDomain: '',
    platformUpdateDomain: String(instanceId % 5),
    priority: 'Regular',
    provider: 'Microsoft.Compute',
    publicKeys: [
      {
        keyData: `ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC${hexFrom(`key:${name}`, 40)}FAKE nodemeta-emulator-secret`,
        path: '/home/azureuser/.ssh/authorized_keys',
      },
    ],
    publisher: '',
    resourceGroupName: RESOURCE_GROUP,
    resourceId,
    securityProfile: { secureBootEnabled: 'false', virtualTpmEnabled: 'false', encryptionAtHost: 'false', securityType: '' },
    sku: '',
    storageProfile: {
      dataDisks: [],
      imageReference: {
        id: `/subscriptions/109a5e88-712a-48ae-9078-9ca8b3c81345/resourceGroups/AKS-Ubuntu/providers/Microsoft.Compute/galleries/AKSUbuntu/images/2204gen2containerd/versions/202411.12.0`,
        offer: '',
        publisher: '',
        sku: '',
        version: '',
        communityGalleryImageId: '',
        sharedGalleryImageId: '',
        exactVersion: '',
      },
      osDisk: {
        caching: 'ReadOnly',
        createOption: 'FromImage',
        diffDiskSettings: { option: 'Local' },
        diskSizeGB: '128',
        encryptionSettings: { enabled: 'false' },
        image: { uri: '' },
        managedDisk: { id: '', storageAccountType: '' },
        name: `${computeName}_OsDisk_1_${hexFrom(`disk:${name}`, 32)}`,
        osType: 'Linux',
        vhd: { uri: '' },
        writeAcceleratorEnabled: 'false',
      },
      resourceDisk: { size: '153600' },
    },
    subscriptionId: SUBSCRIPTION,
    // `tags` and `tagsList` are rendered from the VM's tag list at request time.
    userData: 'bm9kZW1ldGEtZW11bGF0b3I6IGZha2UtdXNlci1kYXRhLXNlY3JldAo=',
    version: '202411.12.0',
    virtualMachineScaleSet: { id: '' },
    vmId: guidFrom(`vm:${name}`),
    vmScaleSetName: scaleSet,
    vmSize: 'Standard_D4s_v5',
    zone,
  };
  const network = {
    interface: [
      {
        ipv4: {
          ipAddress: [{ privateIpAddress: `10.224.0.${host}`, publicIpAddress: '' }],
          subnet: [{ address: '10.224.0.0', prefix: '16' }],
        },
        ipv6: { ipAddress: [] },
        macAddress: `6045BD${hexFrom(`mac:${name}`, 6).toUpperCase()}`,
      },
    ],
  };
  return { compute, network };
}
