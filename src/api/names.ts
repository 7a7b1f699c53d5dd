// Every public name nodemeta writes into a cluster: labels, taints, annotations, field managers,
// the CRD's group/version/kind. Users put these into manifests and alerts; they are a contract
// (docs/architecture.md, "Public contract"). Nothing else in the code base spells them out.

export const GROUP = 'nodemeta.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'NodeMetadata';
export const PLURAL = 'nodemetadatas';
export const SHORT_NAME = 'nmd';

export const FIELD_MANAGER_AGENT = 'nodemeta-agent';
export const FIELD_MANAGER_CONTROLLER = 'nodemeta-controller';

export const LABEL_PREFIX = 'nodemeta.io/';
export const TAG_LABEL_PREFIX = 'tag.nodemeta.io/';

/** Node labels the controller derives from instance metadata. */
export const Labels = {
  provider: `${LABEL_PREFIX}provider`,
  region: `${LABEL_PREFIX}region`,
  zone: `${LABEL_PREFIX}zone`,
  faultDomain: `${LABEL_PREFIX}fault-domain`,
  updateDomain: `${LABEL_PREFIX}update-domain`,
  subFaultDomain: `${LABEL_PREFIX}sub-fault-domain`,
  instanceType: `${LABEL_PREFIX}instance-type`,
  priority: `${LABEL_PREFIX}priority`,
} as const;

/** Standard labels, written only when the config asks and they are absent. */
export const StandardLabels = {
  region: 'topology.kubernetes.io/region',
  zone: 'topology.kubernetes.io/zone',
} as const;

export const Taints = {
  scheduledEvent: `${LABEL_PREFIX}scheduled-event`,
  spotTermination: `${LABEL_PREFIX}spot-termination`,
} as const;

export const Annotations = {
  /** Value: the event id nodemeta cordoned the node for. Only such nodes are ever uncordoned. */
  cordoned: `${LABEL_PREFIX}cordoned`,
  /**
   * Value "true": nodemeta added the load-balancer exclusion label with its cordon, so it removes the
   * label when the node is back in service. A label someone else set has no such annotation and stays.
   */
  excludedFromLoadBalancers: `${LABEL_PREFIX}excluded-from-load-balancers`,
  /** Value: the event id nodemeta added node.kubernetes.io/out-of-service for (config outOfServiceTaint). */
  outOfService: `${LABEL_PREFIX}out-of-service`,
} as const;

/**
 * Kubernetes' well-known label: the cloud's service controller takes a node carrying it out of the
 * backends of LoadBalancer Services (AKS and ACK honour it). nodemeta sets it while it drains a node.
 */
export const EXCLUDE_FROM_LOAD_BALANCERS_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

export const Conditions = {
  metadataAvailable: 'MetadataAvailable',
  labeled: 'Labeled',
  drained: 'Drained',
  /** Whether a drain started now would finish (docs/maintenance.md, "Drain readiness"). */
  drainReady: 'DrainReady',
} as const;

/**
 * What other drainers put on a Node, read to tell who else is acting on it (docs/maintenance.md,
 * "Other controllers on the node"). nodemeta never writes these.
 */
export const OtherDrainerMarks = {
  /** Taint of AKS node auto-drain (its remediator) while it cordons and drains for a scheduled event. */
  aksRemediatorTaint: 'remediator.kubernetes.azure.com/unschedulable',
  /** Taint Karpenter puts on a node it disrupts (drift, expiry, consolidation, repair) before it drains and deletes it. */
  karpenterDisruptedTaint: 'karpenter.sh/disrupted',
  /** Taint the cluster autoscaler puts on a node it is about to delete (scale-down). */
  clusterAutoscalerDeletionTaint: 'ToBeDeletedByClusterAutoscaler',
  /**
   * Annotation kured (with --annotate-nodes) puts on the Node it drains and reboots. kured's lock
   * itself, weave.works/kured-node-lock, is an annotation on kured's DaemonSet naming the node, not on the Node.
   */
  kuredRebootInProgressAnnotation: 'weave.works/kured-reboot-in-progress',
} as const;

/** Label Karpenter puts on every node it provisions: the NodePool it came from. */
export const KARPENTER_NODEPOOL_LABEL = 'karpenter.sh/nodepool';
