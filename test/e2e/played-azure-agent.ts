// A node's agent played inside the test process through the agent's own code, for scenarios that
// need many nodes' statuses written at one chosen moment (a maintenance wave): one agent process per
// node would cost a process each and would write whenever its poll came round, not at once.
//
// What the metadata service serves is given as Azure's own IMDS documents (compute, and the
// scheduled-events document); from there on it is the agent's path: the Azure normalisers,
// observeOnce, agentStatusFor, and NodeMetadataPublisher (the NodeMetadata created owned by its
// Node; server-side apply on /status, field manager nodemeta-agent), with a REST client of its own
// per agent as each agent has.
import { randomUUID } from 'node:crypto';
import type { Approval, AgentStatus } from '../../src/api/nodemetadata.js';
import { systemClock } from '../../src/time/clock.js';
import { observeOnce } from '../../src/agent/observe.js';
import { normalizeAzureCompute } from '../../src/agent/providers/azure/normalize.js';
import { normalizeAzureScheduledEvents } from '../../src/agent/providers/azure/scheduled-events.js';
import type { MetadataProvider } from '../../src/agent/providers/provider.js';
import { agentStatusFor, NodeMetadataPublisher } from '../../src/agent/publisher.js';
import { kubeconfigCredentials } from '../../src/kube/credentials.js';
import { KubeRestClient } from '../../src/kube/rest-client.js';
import { kubeconfigPath } from './lib/cluster.js';

/** One entry of Azure's scheduled-events document (api-version 2020-07-01), as IMDS serves it. */
export interface AzureScheduledEventDocument {
  EventId: string;
  EventType: string;
  ResourceType: 'VirtualMachine';
  Resources: string[];
  EventStatus: 'Scheduled' | 'Started';
  /** RFC 1123; '' once the event has started. */
  NotBefore: string;
  Description: string;
  EventSource: 'Platform' | 'User';
  DurationInSeconds: number;
}

/** The VM name AKS gives a scale-set node's VM: `aks-pool-12345678-vmss00000a` runs `aks-pool-12345678-vmss_10`. */
export function azureVmNameOf(node: string): string {
  const match = /^(.*vmss)([0-9a-z]{6})$/.exec(node);
  if (match === null) throw new Error(`${node} is not an AKS scale-set node name`);
  return `${match[1]}_${parseInt(match[2]!, 36)}`;
}

/** A spot eviction of one VM with `notBefore` notice, as Azure announces it. */
export function preemptEvent(vmName: string, notBeforeMs: number): AzureScheduledEventDocument {
  return {
    EventId: randomUUID().toUpperCase(),
    EventType: 'Preempt',
    ResourceType: 'VirtualMachine',
    Resources: [vmName],
    EventStatus: 'Scheduled',
    NotBefore: new Date(notBeforeMs).toUTCString(),
    Description: '',
    EventSource: 'Platform',
    DurationInSeconds: -1,
  };
}

/** The same event once the platform has started it: Azure then serves no NotBefore. */
export function startedEvent(event: AzureScheduledEventDocument): AzureScheduledEventDocument {
  return { ...event, EventStatus: 'Started', NotBefore: '' };
}

export class PlayedAzureAgent {
  private published: AgentStatus | undefined;
  private readonly approvals: Approval[] = [];
  private incarnation = 0;

  private constructor(
    readonly node: string,
    readonly vmName: string,
    private readonly compute: Record<string, unknown>,
    private readonly client: KubeRestClient,
    private readonly publisher: NodeMetadataPublisher,
  ) {}

  /** The agent of `node`, its NodeMetadata created as the agent creates it; `compute` is what IMDS serves as compute. */
  static async start(node: string, compute: Record<string, unknown>): Promise<PlayedAzureAgent> {
    const vmName = compute.name;
    if (typeof vmName !== 'string') throw new Error('compute.name is missing: it is how scheduled events name the VM');
    const client = new KubeRestClient(await kubeconfigCredentials(kubeconfigPath()), { userAgent: `nodemeta-agent/${node}` });
    const publisher = new NodeMetadataPublisher(client, node);
    await publisher.ensure();
    return new PlayedAzureAgent(node, vmName, compute, client, publisher);
  }

  /** One poll and the status write that follows it, with `events` in the scheduled-events document. */
  async publish(events: AzureScheduledEventDocument[]): Promise<void> {
    const document = { DocumentIncarnation: ++this.incarnation, Events: events };
    const provider: MetadataProvider = {
      name: 'azure',
      readInstance: async () => normalizeAzureCompute(this.compute).snapshot,
      readEvents: async () => normalizeAzureScheduledEvents(document, this.vmName),
      approve: async () => {
        throw new Error('a played agent approves through approved()');
      },
      close: async () => undefined,
    };
    const observation = await observeOnce(provider, systemClock);
    const status = agentStatusFor(observation, { available: true, reason: 'Observed', message: 'azure metadata service answered' }, this.approvals, this.published, new Date());
    await this.publisher.applyStatus(status);
    this.published = status;
  }

  /** What the agent records once its StartRequests for `eventId` succeeded (written with the next publish). */
  approved(eventId: string): void {
    this.approvals.push({ eventId, time: new Date().toISOString() });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** What Azure IMDS serves as `compute` for a spot VM of an AKS scale set (the fields the agent reads). */
export function azureSpotCompute(vmName: string, index: number): Record<string, unknown> {
  const scaleSet = vmName.replace(/_\d+$/, '');
  return {
    name: vmName,
    vmId: randomUUID(),
    location: 'westeurope',
    zone: String((index % 3) + 1),
    platformFaultDomain: String(index % 3),
    platformUpdateDomain: String(index % 5),
    vmSize: 'Standard_D4s_v5',
    priority: 'Spot',
    evictionPolicy: 'Delete',
    vmScaleSetName: scaleSet,
    resourceGroupName: 'MC_nodemeta-e2e_wave_westeurope',
    tagsList: [],
  };
}
