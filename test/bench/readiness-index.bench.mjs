#!/usr/bin/env node
/* global process, console, performance */
// What drain readiness's pod index costs at fleet scale (controller/readiness/pod-index.ts), with
// no cluster: synthetic pods through the real transform and index.
//
//   node test/bench/readiness-index.bench.mjs [--nodes 5000] [--pods-per-node 30]
//
// Fills the index with --nodes × --pods-per-node pods as a cluster of that size holds them: 3
// DaemonSet pods a node, the rest from ~1,000 workloads (Deployments and StatefulSets, ~10 labels
// a pod, a tenth of them with one replica, one in 50 with an emptyDir), a few bare pods, and 300
// PodDisruptionBudgets. Each pod arrives as the API server's JSON (a full V1Pod, parsed, as an
// informer receives it) and goes through the pods informer's transform (indexedPodOf) into the
// index. Prints:
// - the heap the index holds (after a full GC, minus the heap before), and what the pods informer's
//   own cache adds when it holds the same objects (the transform's output);
// - the time to fill it, and to evaluate every node's verdict (drainVerdict over the index);
// - the floor, in the same run: the heap of the same pods kept as plain full-size JSON objects
//   (what a cache of untrimmed V1Pods would hold), and the ratio of the two.
// Figures, not assertions. Built code (dist/, `make build`). Needs --expose-gc: the bench starts
// itself again with it when it is missing (test/bench/run.js runs it without).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

if (typeof globalThis.gc !== 'function') {
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', self, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { PodIndex, indexedPodOf } = await import(path.join(ROOT, 'dist/controller/readiness/pod-index.js'));
const { PdbIndex, readinessPdbOf } = await import(path.join(ROOT, 'dist/controller/readiness/pdb-index.js'));
const { drainVerdict } = await import(path.join(ROOT, 'dist/controller/readiness/verdict.js'));

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '5000' }, 'pods-per-node': { type: 'string', default: '30' } } });
const NODES = Number(values.nodes);
const PODS_PER_NODE = Number(values['pods-per-node']);
const DAEMONSETS = 3;
const NAMESPACES = 100;
const WORKLOADS = 1000;
const PDBS = 300;
const BARE_PODS = 50;
const OPTIONS = { deleteEmptyDirData: false, forceUnmanagedPods: false };

/** A seeded PRNG (mulberry32): the same cluster every run. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = random(18);
const pick = (list) => list[Math.floor(rand() * list.length)];
const hex = (n) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
const uid = () => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
const nodeName = (i) => `aks-pool${1 + (i % 4)}-${String(12345678 + (i % 4)).padStart(8, '0')}-vmss${i.toString(36).padStart(6, '0')}`;

// ---- the cluster: workloads, their pods' placement, budgets -------------------------------------
function workloads() {
  const list = [];
  const regular = NODES * (PODS_PER_NODE - DAEMONSETS) - BARE_PODS;
  const singles = Math.floor(WORKLOADS / 10);
  const perWorkload = Math.floor((regular - singles) / (WORKLOADS - singles));
  for (let w = 0; w < WORKLOADS; w++) {
    const namespace = `team-${String(w % NAMESPACES).padStart(3, '0')}`;
    const kind = w % 7 === 0 ? 'StatefulSet' : 'Deployment';
    const name = `${pick(['checkout', 'search', 'payments', 'catalog', 'auth', 'ingest', 'render', 'billing'])}-${pick(['api', 'worker', 'web', 'cache', 'db'])}-${w}`;
    const replicas = w < singles ? 1 : w === WORKLOADS - 1 ? regular - singles - perWorkload * (WORKLOADS - singles - 1) : perWorkload;
    list.push({ namespace, kind, name, replicas, hash: hex(10), revision: `${name}-${hex(10)}`, emptyDir: w % 50 === 1, team: pick(['red', 'blue', 'green', 'gold']) });
  }
  return list;
}

function labelsOf(workload, ordinal) {
  const labels = {
    app: workload.name,
    'app.kubernetes.io/name': workload.name,
    'app.kubernetes.io/instance': `${workload.name}-prod`,
    'app.kubernetes.io/component': pick(['api', 'worker']),
    'app.kubernetes.io/part-of': workload.namespace,
    'app.kubernetes.io/version': '1.24.3',
    team: workload.team,
    tier: 'backend',
    env: 'production',
  };
  // pick() above draws per pod: take the component from the workload so that its pods share labels.
  labels['app.kubernetes.io/component'] = workload.kind === 'StatefulSet' ? 'store' : 'api';
  if (workload.kind === 'Deployment') labels['pod-template-hash'] = workload.hash;
  else Object.assign(labels, { 'controller-revision-hash': workload.revision, 'statefulset.kubernetes.io/pod-name': `${workload.name}-${ordinal}`, 'apps.kubernetes.io/pod-index': String(ordinal) });
  return labels;
}

/** A V1Pod as the API server serves it (JSON), about the size of a real one. */
function fullPod({ namespace, name, node, labels, owner, emptyDir, priorityClassName, ready }) {
  const created = '2026-12-01T08:00:00Z';
  const containers = [
    {
      name: 'app',
      image: `registry.example.com/${namespace}/${labels.app ?? name}:1.24.3`,
      ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }],
      env: [
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
        { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db', key: 'url' } } },
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability:4317' },
      ],
      resources: { limits: { cpu: '1', memory: '512Mi' }, requests: { cpu: '100m', memory: '256Mi' } },
      volumeMounts: [{ name: 'kube-api-access', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }, ...(emptyDir ? [{ name: 'cache', mountPath: '/cache' }] : [])],
      livenessProbe: { httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
      readinessProbe: { httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 5, successThreshold: 1, failureThreshold: 3 },
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      imagePullPolicy: 'IfNotPresent',
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
    },
  ];
  const readyStatus = ready ? 'True' : 'False';
  return {
    metadata: {
      name,
      ...(owner ? { generateName: `${owner.name}-` } : {}),
      namespace,
      uid: uid(),
      resourceVersion: String(100000 + Math.floor(rand() * 9e6)),
      creationTimestamp: created,
      labels,
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', 'kubectl.kubernetes.io/restartedAt': '2026-11-30T12:00:00Z' },
      ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }] } : {}),
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: created,
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:metadata': { 'f:generateName': {}, 'f:labels': Object.fromEntries(Object.keys(labels).map((k) => [`f:${k}`, {}])), 'f:ownerReferences': {} }, 'f:spec': { 'f:containers': { 'k:{"name":"app"}': { '.': {}, 'f:env': {}, 'f:image': {}, 'f:ports': {}, 'f:resources': {} } }, 'f:volumes': {} } },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time: created,
          fieldsType: 'FieldsV1',
          subresource: 'status',
          fieldsV1: { 'f:status': { 'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:lastProbeTime': {}, 'f:lastTransitionTime': {}, 'f:status': {}, 'f:type': {} } }, 'f:containerStatuses': {}, 'f:hostIP': {}, 'f:phase': {}, 'f:podIP': {}, 'f:podIPs': {}, 'f:startTime': {} } },
        },
      ],
    },
    spec: {
      volumes: [
        ...(emptyDir ? [{ name: 'cache', emptyDir: { sizeLimit: '1Gi' } }] : []),
        {
          name: 'kube-api-access',
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
            defaultMode: 420,
          },
        },
      ],
      containers,
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      serviceAccount: 'default',
      nodeName: node,
      securityContext: { fsGroup: 2000 },
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      ...(priorityClassName ? { priorityClassName, priority: 2000001000 } : { priority: 0 }),
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      phase: 'Running',
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: type === 'Ready' || type === 'ContainersReady' ? readyStatus : 'True', lastProbeTime: null, lastTransitionTime: created })),
      hostIP: '10.224.0.4',
      hostIPs: [{ ip: '10.224.0.4' }],
      podIP: `10.244.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}`,
      podIPs: [{ ip: '10.244.0.1' }],
      startTime: created,
      containerStatuses: [
        {
          name: 'app',
          state: { running: { startedAt: created } },
          lastState: {},
          ready,
          restartCount: 0,
          image: containers[0].image,
          imageID: `${containers[0].image}@sha256:${hex(64)}`,
          containerID: `containerd://${hex(64)}`,
          started: true,
        },
      ],
      qosClass: 'Burstable',
    },
  };
}

/** Every pod of the cluster, as JSON text, in a stable order (one at a time: never all at once in memory). */
const WORKLOAD_LIST = workloads();

function* clusterPods() {
  const list = WORKLOAD_LIST;
  // Regular pods go to nodes in a shuffled round-robin: each node gets PODS_PER_NODE - DAEMONSETS.
  const slots = [];
  for (let n = 0; n < NODES; n++) for (let s = 0; s < PODS_PER_NODE - DAEMONSETS; s++) slots.push(n);
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [slots[i], slots[j]] = [slots[j], slots[i]];
  }
  let slot = 0;
  for (const workload of list) {
    const owner = workload.kind === 'Deployment' ? { kind: 'ReplicaSet', name: `${workload.name}-${workload.hash}`, uid: uid() } : { kind: 'StatefulSet', name: workload.name, uid: uid() };
    for (let r = 0; r < workload.replicas; r++) {
      const name = workload.kind === 'Deployment' ? `${owner.name}-${hex(2)}${r.toString(36).padStart(3, '0')}` : `${workload.name}-${r}`;
      yield JSON.stringify(fullPod({ namespace: workload.namespace, name, node: nodeName(slots[slot++]), labels: labelsOf(workload, r), owner, emptyDir: workload.emptyDir, ready: rand() > 0.02 }));
    }
  }
  for (let b = 0; b < BARE_PODS; b++) {
    yield JSON.stringify(fullPod({ namespace: `team-${String(b % NAMESPACES).padStart(3, '0')}`, name: `debug-${b}`, node: nodeName(slots[slot++]), labels: { run: `debug-${b}` }, ready: true }));
  }
  const daemonSets = ['kube-proxy', 'azure-cns', 'fluent-bit'].map((name) => ({ name, uid: uid(), revision: hex(10) }));
  for (let n = 0; n < NODES; n++) {
    for (const ds of daemonSets) {
      const labels = { 'k8s-app': ds.name, 'controller-revision-hash': ds.revision, 'pod-template-generation': '3', component: ds.name, tier: 'node' };
      yield JSON.stringify(fullPod({ namespace: 'kube-system', name: `${ds.name}-${n.toString(36).padStart(5, '0')}`, node: nodeName(n), labels, owner: { kind: 'DaemonSet', name: ds.name, uid: ds.uid }, priorityClassName: 'system-node-critical', ready: true }));
    }
  }
}

function budgets() {
  const list = WORKLOAD_LIST.filter((_, w) => w % Math.floor(WORKLOADS / PDBS) === 0).slice(0, PDBS);
  return list.map((workload, i) => {
    const allowed = [0, 1, 1, 2, 5][i % 5];
    return readinessPdbOf({
      metadata: { namespace: workload.namespace, name: workload.name, generation: 1 },
      spec: { selector: { matchLabels: { app: workload.name } }, ...(i % 2 === 0 ? { maxUnavailable: allowed } : { minAvailable: Math.max(0, workload.replicas - allowed) }) },
      status: { disruptionsAllowed: allowed, currentHealthy: workload.replicas, desiredHealthy: Math.max(0, workload.replicas - allowed), expectedPods: workload.replicas, observedGeneration: 1 },
    });
  });
}

// ---- measurements ---------------------------------------------------------------------------------
function heapMiB() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed / 1048576;
}
const mib = (value) => `${value.toFixed(1)} MiB`;

const totalPods = NODES * PODS_PER_NODE;
console.log(`readiness index: ${NODES} nodes × ${PODS_PER_NODE} pods = ${totalPods} pods, ${WORKLOADS} workloads, ${PDBS} PDBs, ${NAMESPACES} namespaces`);

// 1. The index, fed pod after pod as an informer would (JSON.parse of the API server's text,
// transform, upsert), and 2. every node's verdict over it. The index lives only inside this function.
function measureIndex() {
  const beforeIndex = heapMiB();
  const pods = new PodIndex();
  const pdbs = new PdbIndex(pods);
  let fillMs = 0;
  let count = 0;
  for (const text of clusterPods()) {
    const raw = JSON.parse(text);
    const started = performance.now();
    pods.upsert(indexedPodOf(raw));
    fillMs += performance.now() - started;
    count++;
  }
  for (const budget of budgets()) pdbs.upsert(budget);
  const indexMiB = heapMiB() - beforeIndex;
  console.log(`pods indexed: ${count} (${pods.size} bound), distinct label sets ${pods.labelSets}`);
  console.log(`index heap: ${mib(indexMiB)} (${((indexMiB * 1048576) / count).toFixed(0)} bytes a pod)`);
  console.log(`fill (transform + upsert, parse excluded): ${fillMs.toFixed(0)} ms (${((fillMs * 1000) / count).toFixed(1)} µs a pod)`);
  // The informer's own cache (client-node ListWatch: namespace -> name -> object) holds the same objects.
  const beforeCache = heapMiB();
  const informerCache = new Map();
  for (const node of pods.nodes()) {
    for (const pod of pods.podsOn(node)) {
      let namespace = informerCache.get(pod.namespace);
      if (namespace === undefined) informerCache.set(pod.namespace, (namespace = new Map()));
      namespace.set(pod.name, pod);
    }
  }
  const cacheMiB = heapMiB() - beforeCache;
  console.log(`the pods informer's cache of the same objects: +${mib(cacheMiB)}; index and cache together ${mib(indexMiB + cacheMiB)}`);

  const byReason = new Map();
  let notReady = 0;
  let warned = 0;
  const nodes = [...pods.nodes()];
  const started = performance.now();
  for (const node of nodes) {
    const verdict = drainVerdict({ pods: pods.podsOn(node), pdbsIn: pdbs.inNamespace, readyReplicas: pods.readyReplicas, options: OPTIONS });
    if (verdict.blockedPods > 0) notReady++;
    if (verdict.warnings.length > 0) warned++;
    for (const blocker of verdict.blockers) byReason.set(blocker.reason, (byReason.get(blocker.reason) ?? 0) + 1);
  }
  const verdictMs = performance.now() - started;
  console.log(`every node's verdict: ${nodes.length} nodes in ${verdictMs.toFixed(0)} ms (${((verdictMs * 1000) / nodes.length).toFixed(0)} µs a node)`);
  console.log(`  not drain-ready: ${notReady} nodes; with a SingleReplica warning: ${warned}; blockers by reason: ${JSON.stringify(Object.fromEntries(byReason))}`);
  informerCache.clear();
  return indexMiB;
}

// 3. The floor: the same pods kept as full-size JSON objects (a cache of untrimmed V1Pods).
function measureFloor() {
  const beforeFull = heapMiB();
  const full = [];
  for (const text of clusterPods()) full.push(JSON.parse(text));
  const fullMiB = heapMiB() - beforeFull;
  console.log(`floor, the same pods as full JSON objects: ${mib(fullMiB)} (${((fullMiB * 1048576) / full.length).toFixed(0)} bytes a pod)`);
  return fullMiB;
}

const indexMiB = measureIndex();
const fullMiB = measureFloor();
console.log(`ratio full / index: ${(fullMiB / indexMiB).toFixed(1)}×`);
