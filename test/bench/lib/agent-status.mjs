// NodeMetadata statuses exactly as a node's agent writes them, without running an agent per node:
// the emulator's default Azure VM for the node's name (compute document and scheduled-events
// document as IMDS serves them), normalised by the agent's own Azure code and turned into the
// agent's status body by its own publisher function (agentStatusFor), then applied through the
// agent's publisher (server-side apply on /status, field manager nodemeta-agent, ownerReference to
// the Node on create). Built code (dist/, `make build`).
import { randomUUID } from 'node:crypto';
import { NodeMetadataPublisher, agentStatusFor } from '../../../dist/agent/publisher.js';
import { normalizeAzureCompute } from '../../../dist/agent/providers/azure/normalize.js';
import { normalizeAzureScheduledEvents } from '../../../dist/agent/providers/azure/scheduled-events.js';
import { defaultAzureVm } from '../../../dist/emulator/azure/defaults.js';

const OBSERVED = { available: true, reason: 'Observed', message: 'azure metadata service answered' };

/** One node's simulated agent: its VM as IMDS describes it, the events it sees, its last write. */
export class SimulatedAzureAgent {
  /**
   * `region`: the cluster's (the emulator's default VM is in westeurope); the zone follows the VM's
   * instance id (eastus-1..3), as the cluster's nodes are labelled. A spot VM (the kind a Preempt
   * reclaims), one tag: team.
   */
  constructor(nodeName, region) {
    this.nodeName = nodeName;
    const { compute } = defaultAzureVm(nodeName, 0);
    compute.location = region;
    compute.priority = 'Spot';
    compute.evictionPolicy = 'Delete';
    compute.tagsList = [{ name: 'team', value: 'payments' }];
    const { snapshot, vmName } = normalizeAzureCompute(compute);
    this.instance = snapshot;
    this.vmName = vmName;
    this.incarnation = 1;
    this.rawEvents = [];
    this.published = undefined;
  }

  /** A spot eviction of this VM (Azure's Preempt: 30 s notice, Resources = this VM). */
  addPreempt(noticeMs, now = Date.now()) {
    this.incarnation += 1;
    this.rawEvents = [
      {
        EventId: randomUUID().toUpperCase(),
        EventType: 'Preempt',
        ResourceType: 'VirtualMachine',
        Resources: [this.vmName],
        EventStatus: 'Scheduled',
        NotBefore: new Date(now + noticeMs).toUTCString(),
        Description: 'Spot virtual machine is being evicted.',
        EventSource: 'Platform',
        DurationInSeconds: -1,
      },
    ];
  }

  /** The platform is done with the event: it leaves the document. */
  clearEvents() {
    this.incarnation += 1;
    this.rawEvents = [];
  }

  /** The body the agent would apply now (its agentStatusFor over what IMDS says). */
  status(now = new Date()) {
    const events = normalizeAzureScheduledEvents({ DocumentIncarnation: this.incarnation, Events: this.rawEvents }, this.vmName);
    const observation = {
      provider: 'azure',
      observedTime: now.toISOString(),
      instance: this.instance.instance,
      tags: this.instance.tags,
      events: events.events,
      spot: events.spot,
      incarnation: events.incarnation,
    };
    const warnings = [...(this.instance.warnings ?? []), ...(events.warnings ?? [])];
    if (warnings.length > 0) observation.warnings = warnings;
    return agentStatusFor(observation, OBSERVED, [], this.published, now);
  }

  /** Creates the NodeMetadata if missing (GET, GET node, POST: the agent's start-up). */
  async ensure(client) {
    await new NodeMetadataPublisher(client, this.nodeName).ensure();
  }

  /** Applies status() through the agent's publisher; returns when the API server answered. */
  async publish(client) {
    const status = this.status();
    await new NodeMetadataPublisher(client, this.nodeName).applyStatus(status);
    this.published = status;
  }
}
