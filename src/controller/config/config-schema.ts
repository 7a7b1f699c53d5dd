// The controller's configuration file as a JSON Schema: the one place that states every option,
// its type and its default. parseConfig validates against it (ajv, defaults filled in) and
// docs/configuration.md is generated from it (config-docs.ts), so the docs cannot drift.

/** Formats the schema uses beyond JSON Schema's own; config.ts registers them with ajv. */
export const ConfigFormats = {
  /** `30s`, `15m`, `1h30m`, `500ms`, `0`. */
  duration: 'duration',
  /** `10%`: 1 to 100 percent. */
  percent: 'percent',
  /** An IANA time zone this runtime knows: `UTC`, `Europe/Amsterdam`. */
  timeZone: 'timeZone',
} as const;

const HH_MM = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

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
const AT_DEADLINE_HELP =
  'With action Drain: a pod the drain would evict that is still on the node when only its grace period (min(terminationGracePeriodSeconds, drain.maxGracePeriod)) plus 10 s is left before NotBefore is left there (Wait) or deleted with that grace period, overriding its PodDisruptionBudget (Delete); never pods the configuration keeps (Unmanaged, LocalStorage). Not allowed for Freeze. See docs/maintenance.md, "The end of a blocked drain".';

/** `atDeadline` of a rule; `defaultValue` undefined in the per-provider overrides. */
const atDeadline = (defaultValue: string | undefined) => ({
  type: 'string',
  enum: ['Wait', 'Delete'],
  description: AT_DEADLINE_HELP,
  ...(defaultValue === undefined ? {} : { default: defaultValue }),
});

/** Planned maintenance: the action starts `leadTime` before NotBefore (at once if the notice is shorter). */
const plannedRule = (description: string, defaultAction: string, withAtDeadline = true) => ({
  type: 'object',
  additionalProperties: false,
  description,
  default: {},
  properties: {
    action: action(defaultAction, ''),
    leadTime: duration('1h', LEAD_TIME_HELP),
    ...(withAtDeadline ? { atDeadline: atDeadline('Wait') } : {}),
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
    atDeadline: atDeadline('Wait'),
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
    Unknown: overrideRule(true, false),
    Preempt: overrideRule(false),
    Terminate: overrideRule(false),
    SpotTermination: overrideRule(false),
  },
});

function overrideRule(planned: boolean, withAtDeadline = true) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      action: action(undefined, ACTION_HELP),
      ...(planned ? { leadTime: duration(undefined, LEAD_TIME_HELP) } : {}),
      ...(withAtDeadline ? { atDeadline: atDeadline(undefined) } : {}),
    },
  };
}

/** The transitions a sink may ask for: NOTIFICATION_TRANSITIONS of src/api/nodemetadata.ts (a unit test checks). */
const TRANSITIONS = ['Scheduled', 'SpotReclaim', 'Cordoned', 'DrainStarted', 'Drained', 'DrainFailed', 'Approved', 'Completed', 'Cancelled', 'DrainAtRisk', 'PodDeletedAtDeadline'];

/**
 * Webhook sinks (docs/notifications.md). A sink's URL carries its token, so the file never holds it:
 * `urlFrom` names where it is read (an environment variable, or a file such as a mounted Secret).
 */
const NOTIFICATIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  description: 'Webhook notifications of maintenance transitions (docs/notifications.md). Only the leader sends; sending never holds up a node.',
  default: {},
  properties: {
    clusterName: {
      type: 'string',
      maxLength: 128,
      description: 'Names the cluster in every notification (the generic body\'s `cluster`, the title of Slack and Teams messages). Empty: not shown.',
      default: '',
    },
    sinks: {
      type: 'array',
      description: 'Where notifications go; any number. Each sink has its own bounded queue and sends in the background, one request at a time, in order, over a connection of its own (undici), through the egress proxy named by HTTPS_PROXY, HTTP_PROXY and NO_PROXY of the controller (chart: controller.proxy; docs/notifications.md, "Proxies").',
      default: [],
      maxItems: 32,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'format', 'urlFrom'],
        properties: {
          name: {
            type: 'string',
            pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
            maxLength: 63,
            description: 'Unique; the `sink` label of the notification metrics and the name in log lines (the URL never is).',
          },
          format: {
            type: 'string',
            enum: ['generic', 'slack', 'teams'],
            description: 'generic: the versioned JSON body of docs/notifications.md; slack: a Slack incoming-webhook message; teams: a Microsoft Teams Workflows message with an Adaptive Card.',
          },
          transitions: {
            type: 'array',
            description: 'The transitions this sink wants (docs/notifications.md).',
            minItems: 1,
            uniqueItems: true,
            items: { type: 'string', enum: TRANSITIONS },
            default: TRANSITIONS,
          },
          urlFrom: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            maxProperties: 1,
            description: 'Where the webhook URL is read, never the URL itself (it carries a token): `env` names an environment variable, `file` a file such as a mounted Secret key (read again for every request, so a rotated Secret applies without a restart).',
            properties: {
              env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 256, description: "The name of an environment variable of the controller's container holding the URL (e.g. from a Secret with `valueFrom.secretKeyRef`)." },
              file: { type: 'string', pattern: '^/', maxLength: 1024, description: 'The absolute path of a file holding the URL (the Helm chart mounts each sink\'s Secret key as one); surrounding whitespace is ignored.' },
            },
            examples: [{ file: '/etc/nodemeta/notifications/ops-slack/url' }, { env: 'OPS_WEBHOOK_URL' }],
          },
          timeout: duration('10s', 'How long one request may take (connection, answer and body) before it counts as failed and is retried.'),
          maxAttempts: {
            type: 'integer',
            minimum: 1,
            maximum: 100,
            description: 'Attempts per notification: 5xx, 429, timeouts and connection errors are retried with jittered exponential backoff (1 s doubling to 1 min, or the Retry-After asked for, up to 5 min); other answers are not.',
            default: 10,
          },
          queueSize: {
            type: 'integer',
            minimum: 1,
            maximum: 100000,
            description: 'Notifications waiting for this sink at most; beyond that new ones are dropped and counted (nodemeta_controller_notifications_dropped_total).',
            default: 1000,
          },
        },
      },
      examples: [[{ name: 'ops-slack', format: 'slack', transitions: ['Scheduled', 'DrainFailed', 'Completed'], urlFrom: { file: '/etc/nodemeta/notifications/ops-slack/url' } }]],
    },
  },
};

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
        Unknown: plannedRule('Events of a type nodemeta does not know (the raw type is in the NodeMetadata status); the default notice taint shows them without moving pods.', 'Taint', false),
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
        nodeGroups: {
          type: 'array',
          description:
            "Groups of nodes by label selector, each drained or not. The first group a node's labels match decides; a node in no group is drained. `drain: Disabled` turns Drain and Cordon into the notice taint, as a NodeMetadata's `spec.drain: Disabled` does: nodemeta still labels the node and reports its events, but neither cordons nor evicts. By default every node is drained, Karpenter-provisioned ones (label `karpenter.sh/nodepool`) too: Karpenter on AKS acts on a pending spot eviction (Preempt) itself, and nodemeta steps back while its `karpenter.sh/disrupted` taint is on, but nothing else drains those nodes before a Reboot or a Redeploy (docs/maintenance.md, \"Other controllers on the node\").",
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'nodeSelector', 'drain'],
            properties: {
              name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63, description: 'A name for logs and Events.' },
              nodeSelector: {
                type: 'object',
                additionalProperties: false,
                description: 'A Kubernetes label selector over Node labels (matchLabels, matchExpressions); an empty one selects every node.',
                properties: {
                  matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
                  matchExpressions: {
                    type: 'array',
                    items: {
                      type: 'object',
                      additionalProperties: false,
                      required: ['key', 'operator'],
                      properties: {
                        key: { type: 'string', minLength: 1, maxLength: 317 },
                        operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
                        values: { type: 'array', items: { type: 'string' } },
                      },
                    },
                  },
                },
              },
              drain: { type: 'string', enum: ['Enabled', 'Disabled'], description: 'Disabled: label and report only (no cordon, no eviction, no approval).' },
            },
          },
          examples: [[{ name: 'batch', nodeSelector: { matchLabels: { 'kubernetes.azure.com/agentpool': 'batch' } }, drain: 'Disabled' }]],
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
        excludeFromLoadBalancers: {
          type: 'boolean',
          description:
            "With nodemeta's cordon, label the node node.kubernetes.io/exclude-from-external-load-balancers=true, so the cloud's service controller takes it out of LoadBalancer backends before its pods go (AKS and ACK honour the label). Removed when nodemeta uncordons the node, and only if nodemeta added it: a label set by someone else stays. A node someone else cordoned is not labelled.",
          default: true,
        },
        loadBalancerDrainDelay: duration(
          '60s',
          "After the node is excluded from LoadBalancer backends (the label above, whoever added it) and before its first eviction, wait this long, so that the cloud has taken the node out of the backend pools and connections through it have ended (docs/maintenance.md, \"Load balancers first\"). The wait counts from when nodemeta first saw the label, and never goes past the moment the drain must start to end before NotBefore (NotBefore - maxGracePeriod - 10 s): a short notice (Preempt, spot) cuts it, with an Event. Only nodes that carry the label wait. 0 turns the wait off.",
        ),
      },
    },
    approve: {
      type: 'string',
      enum: ['AfterDrain', 'Never'],
      description:
        'Azure only. AfterDrain: once every cluster node named in the event is drained, ask the agent to approve it so maintenance starts early (approval starts it for all of them). Never: wait for NotBefore.',
      default: 'AfterDrain',
    },
    approvalWindows: {
      type: 'array',
      description:
        'Limits `approve: AfterDrain` to these windows: outside all of them nodemeta drains as usual but does not approve early, and the platform starts the event at NotBefore. Empty: approve whenever the drain is done. An `end` at or before `start` runs into the next day (`Fri 22:00–06:00` ends Saturday 06:00). Times are wall-clock times in `timeZone`, daylight saving included.',
      default: [],
      maxItems: 32,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['days', 'start', 'end'],
        properties: {
          days: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] } },
          start: { type: 'string', pattern: HH_MM },
          end: { type: 'string', pattern: `${HH_MM.slice(0, -1)}|^24:00$` },
          timeZone: { type: 'string', format: ConfigFormats.timeZone, default: 'UTC' },
        },
      },
      examples: [[{ days: ['Sat', 'Sun'], start: '01:00', end: '05:00', timeZone: 'Europe/Amsterdam' }]],
    },
    outOfServiceTaint: {
      type: 'boolean',
      description:
        "Opt-in. Once a Terminate, Preempt or spot reclaim has started and the node is NotReady, taint it node.kubernetes.io/out-of-service=nodeshutdown:NoExecute (Kubernetes' non-graceful node shutdown) so that its pods are deleted and their volumes detached at once, and a StatefulSet's pod can start elsewhere; removed when the node is Ready again. Risk: a node only cut off from the API server while its VM still runs loses its pods from the API while their containers may run on; see docs/maintenance.md.",
      default: false,
    },
    uncordonAfterCompletion: {
      type: 'boolean',
      description: 'Uncordon a node nodemeta cordoned once its event is over and the node is Ready.',
      default: true,
    },
    drainReadiness: {
      type: 'object',
      additionalProperties: false,
      description: 'Drain readiness: for every node, whether a drain started now would finish (condition DrainReady, status.drainReadiness, the DRAIN-READY column; see docs/maintenance.md).',
      default: {},
      properties: {
        enabled: {
          type: 'boolean',
          description:
            "Watch every pod (trimmed to what the verdict reads) and every PodDisruptionBudget of the cluster, and keep each node's DrainReady condition current. Cost: one cluster-wide pod watch and list (paged, at the lowest request priority) and memory for every pod of the cluster (see docs/scaling.md); a status write only when a node's verdict changes. The drain reads its pods from the same index, so this is the controller's only pod watch. Off: no PDB watch and no cluster-wide pod watch (the drain lists and watches the pods of the nodes it drains, and of those only), and the controller removes its DrainReady condition and status.drainReadiness.",
          default: true,
        },
      },
    },
    notifications: NOTIFICATIONS_SCHEMA,
    dryRun: {
      type: 'boolean',
      description:
        "Read everything, decide everything, write nothing to Nodes: no label, taint, cordon or uncordon, no eviction, no approval request. Each decision becomes a `DryRun` Event on the Node (`would cordon ...`, `would evict 3 pods: ...`, `would ask the agent to approve ...`), and the maintenance status that a real run would reach is written with `dryRun: true` (`kubectl get nmd` shows it). Notifications are sent, marked as dry run. `nodemeta controller --dry-run` forces it on whatever this says (the Helm chart passes it when this is true). Turning it off (a reload) makes the controller act for real from what the Nodes really are. See docs/maintenance.md.",
      default: false,
    },
  },
} as const;
