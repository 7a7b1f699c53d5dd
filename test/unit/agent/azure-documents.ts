/** Documents shaped like the seeds' examples (../../../../shared/seeds, Azure IMDS), with fake secrets. */

export const FAKE_SECRETS = ['ssh-rsa AAAAFAKEKEY', 'c2VjcmV0LXVzZXItZGF0YQ==', 'adminUserFake', 'customDataFake'];

export function computeDocument(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    azEnvironment: 'AzurePublicCloud',
    evictionPolicy: '',
    location: 'westeurope',
    name: 'aks-pool1-12345678-vmss_3',
    offer: 'UbuntuServer',
    osProfile: { adminUsername: 'adminUserFake', computerName: 'aks-pool1-12345678-vmss000003', disablePasswordAuthentication: 'true' },
    osType: 'Linux',
    placementGroupId: 'f67c14ab-e92c-408c-ae2d-da15866ec79a',
    platformFaultDomain: '1',
    platformSubFaultDomain: '',
    platformUpdateDomain: '3',
    priority: 'Regular',
    publicKeys: [{ keyData: 'ssh-rsa AAAAFAKEKEY', path: '/home/azureuser/.ssh/authorized_keys' }],
    resourceGroupName: 'MC_rg_aks_westeurope',
    resourceId: '/subscriptions/xxxxx/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-pool1-12345678-vmss/virtualMachines/3',
    subscriptionId: 'xxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxx',
    tags: 'team:payments;aks-managed-poolName:pool1',
    tagsList: [
      { name: 'team', value: 'payments' },
      { name: 'aks-managed-poolName', value: 'pool1' },
    ],
    userData: 'c2VjcmV0LXVzZXItZGF0YQ==',
    customData: 'customDataFake',
    vmId: '02aab8a4-74ef-476e-8182-f6d2ba4166a6',
    vmScaleSetName: 'aks-pool1-12345678-vmss',
    vmSize: 'Standard_D4s_v5',
    zone: '2',
    ...overrides,
  };
}

export function eventsDocument(events: Record<string, unknown>[], incarnation: unknown = 3): Record<string, unknown> {
  return { DocumentIncarnation: incarnation, Events: events };
}

export function azureEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    EventId: 'f020ba2e-3bc0-4c40-a10b-86575a9eabd5',
    EventType: 'Reboot',
    ResourceType: 'VirtualMachine',
    Resources: ['aks-pool1-12345678-vmss_3'],
    EventStatus: 'Scheduled',
    NotBefore: 'Sun, 22 Nov 2026 10:15:00 GMT',
    Description: 'Virtual machine is going to be restarted as requested by authorized user.',
    EventSource: 'Platform',
    DurationInSeconds: 7,
    ...overrides,
  };
}
