// The controller's configuration file as a JSON Schema: the one place that states every option,
// its type and its default. parseConfig validates against it (ajv, defaults filled in) and
// docs/configuration.md is generated from it (config-docs.ts), so the docs cannot drift.

/** Formats the schema uses beyond JSON Schema's own; config.ts registers them with ajv. */
export const ConfigFormats = {
  /** `30s`, `15m`, `1h30m`, `500ms`, `0`. */
  duration: 'duration',
  /** `10%`: 1 to 100 percent. */
  percent: 'percent',
} as const;

const duration = (defaultValue: string | undefined, description: string) => ({
  type: 'string',
  format: ConfigFormats.duration,
  description,
  ...(defaultValue === undefined ? {} : { default: defaultValue }),
});

const action = (defaultValue: string | undefined, description: string) => ({
  type: 'string',
  enum: ['Drain', 'Cordon', 'Taint', 'None'],
  ...(description === '' ? {} : { description }),
  ...(defaultValue === undefined ? {} : { default: defaultValue }),
});

const ACTION_HELP = 'Drain: taint, cordon and evict the pods; Cordon: taint and cordon; Taint: a notice taint only; None: ignore the event.';
const LEAD_TIME_HELP = 'How long before NotBefore the action starts; at once when the notice is shorter.';

/** Planned maintenance: the action starts `leadTime` before NotBefore (at once if the notice is shorter). */
const plannedRule = (description: string, defaultAction: string) => ({
  type: 'object',
  additionalProperties: false,
  description,
  default: {},
  properties: {
    action: action(defaultAction, ''),
    leadTime: duration('1h', LEAD_TIME_HELP),
  },
});

/** Short-notice events: the action starts as soon as the event is seen, so there is no lead time. */
const immediateRule = (description: string) => ({
  type: 'object',
  additionalProperties: false,
  description: `${description} Acted on at once (no lead time).`,
  default: {},
  properties: {
    action: action('Drain', ''),
  },
});

/** A per-provider override of some event types; fields left out keep the general rule's value. */
const providerOverride = (provider: string) => ({
  type: 'object',
  additionalProperties: false,
  description: `Overrides for ${provider} nodes; each field left out keeps the general rule's value.`,
  properties: {
    Freeze: overrideRule(true),
    Reboot: overrideRule(true),
    Redeploy: overrideRule(true),
    Unknown: overrideRule(true),
    Preempt: overrideRule(false),
    Terminate: overrideRule(false),
    SpotTermination: overrideRule(false),
  },
});

function overrideRule(planned: boolean) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: planned ? { action: action(undefined, ACTION_HELP), leadTime: duration(undefined, LEAD_TIME_HELP) } : { action: action(undefined, ACTION_HELP) },
  };
}

export const CONFIG_SCHEMA = {
  $id: 'https://nodemeta.io/schemas/controller-config.json',
  type: 'object',
  additionalProperties: false,
  properties: {
    labels: {
      type: 'object',
      additionalProperties: false,
      description: 'Node labels derived from instance metadata (nodemeta.io/*) and tags (tag.nodemeta.io/*).',
      default: {},
      properties: {
        allowedTags: {
          type: 'array',
          description:
            'Instance tags that become `tag.nodemeta.io/<name>` labels: exact names and/or glob patterns (`*` any run of characters, `?` one character), case-sensitive. Empty: no tag labels.',
          default: [],
          maxItems: 256,
          uniqueItems: true,
          items: { type: 'string', minLength: 1, maxLength: 512 },
          examples: [['env', 'team', 'cost-*']],
        },
        standardTopology: {
          type: 'boolean',
          description:
            'Also write topology.kubernetes.io/region and topology.kubernetes.io/zone when a node lacks them. Cloud providers normally set them, so this is off by default.',
          default: false,
        },
      },
    },
    policy: {
      type: 'object',
      additionalProperties: false,
      description: 'What to do for each type of maintenance event.',
      default: {},
      properties: {
        Freeze: plannedRule('Freeze: Azure pauses the VM for a few seconds; the pods survive.', 'Taint'),
        Reboot: plannedRule('Reboot: the VM restarts. Azure gives 15 min notice, Alibaba (SystemMaintenance.Reboot) 24–48 h.', 'Drain'),
        Redeploy: plannedRule('Redeploy: the VM moves to another host and loses its local disk. Azure gives 10 min notice, Alibaba 24–48 h.', 'Drain'),
        // Unknown impact: make it visible without moving pods; users can choose more.
        Unknown: plannedRule('Events of a type nodemeta does not know (the raw type is in the NodeMetadata status); the default notice taint shows them without moving pods.', 'Taint'),
        Preempt: immediateRule('Preempt: Azure spot eviction, about 30 s ahead.'),
        Terminate: immediateRule('Terminate: scale-set deletion of the VM, 5–15 min ahead.'),
        SpotTermination: immediateRule('Spot termination: Alibaba spot reclaim (instance/spot/termination-time), about 5 min ahead.'),
        providers: {
          type: 'object',
          additionalProperties: false,
          description: 'Per-provider overrides of the rules above.',
          default: {},
          properties: {
            azure: providerOverride('Azure'),
            alibaba: providerOverride('Alibaba Cloud'),
          },
          examples: [{ alibaba: { Reboot: { leadTime: '4h' } } }],
        },
      },
    },
    drain: {
      type: 'object',
      additionalProperties: false,
      description: 'How nodes are drained.',
      default: {},
      properties: {
        maxConcurrentDrains: {
          type: ['integer', 'string'],
          minimum: 1,
          format: ConfigFormats.percent,
          description:
            'How many nodes may drain at once, cluster-wide: a number, or a percentage of the nodes with a NodeMetadata (rounded up, at least 1). A node waiting for budget stays cordoned and tainted, and drains anyway once its deadline comes.',
          default: '10%',
          examples: [3, '25%'],
        },
        maxGracePeriod: duration('5m', "Cap on a pod's termination grace period during a drain; it is cut further so that eviction ends before NotBefore."),
        evictionTimeout: duration('30m', 'How long to keep retrying an eviction (e.g. blocked by a PodDisruptionBudget) before the drain is reported Failed.'),
        waveSettleTime: duration(
          '2s',
          'Evictions start only once every node of a maintenance wave is tainted and cordoned and no further node has needed it for this long, so that a pod evicted from one node of the wave is not scheduled onto another (the agents report an event within about one poll, 1 s on Azure). A node holds its evictions at most 10 times this (at least 10 s), even if the wave keeps growing. 0 turns the wait off.',
        ),
        deleteEmptyDirData: {
          type: 'boolean',
          description: 'Evict pods with emptyDir volumes (their data is lost). The maintenance takes the node down anyway, so this is on by default.',
          default: true,
        },
        forceUnmanagedPods: {
          type: 'boolean',
          description: 'Evict pods no controller will recreate. Off by default: such a pod survives a reboot in place but would be gone for good once evicted.',
          default: false,
        },
      },
    },
    approve: {
      type: 'string',
      enum: ['AfterDrain', 'Never'],
      description:
        'Azure only. AfterDrain: once every cluster node named in the event is drained, ask the agent to approve it so maintenance starts early (approval starts it for all of them). Never: wait for NotBefore.',
      default: 'AfterDrain',
    },
    uncordonAfterCompletion: {
      type: 'boolean',
      description: 'Uncordon a node nodemeta cordoned once its event is over and the node is Ready.',
      default: true,
    },
  },
} as const;
