// `nodemeta controller`: flags in, configuration checked, wiring, run. The logic lives in src/controller/.
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../controller/config/config-watcher.js';
import { runCleanup, summaryLine, type CleanupOptions } from '../controller/cleanup.js';
import { defaultIdentity, DEFAULT_LEADER_ELECTION, DEFAULT_MAX_CONCURRENT_EVICTIONS, DEFAULT_PROTECT_WORKERS, LEASE_NAME, runController, type ControllerOptions } from '../controller/controller.js';
import { DEFAULT_RATE_LIMIT } from '../kube/client-node/api-clients.js';
import { loadKubeConfig } from '../kube/client-node/kubeconfig.js';
import { runTerms } from '../controller/leadership-terms.js';
import { createLogger } from '../observability/logger.js';
import { systemClock } from '../time/clock.js';
import { UsageError, durationFlag, parseListenAddress } from './flags.js';

const HELP = `Usage: nodemeta controller (--config FILE | --default-config) [flags]
       nodemeta controller --cleanup [--leader-elect=false] [--lease-namespace NS] [--lease-name NAME]

Reconciles node labels, taints and maintenance status from NodeMetadata objects. Runs as a
leader-elected Deployment: every replica keeps its caches warm and serves /readyz, only the leader
writes. Logs go to stderr as JSON lines.

--cleanup removes everything nodemeta wrote on the nodes and exits (the Helm chart's pre-delete
hook runs it on \`helm uninstall\`): it takes the controller's Lease whoever holds it (for 5 minutes)
and waits --renew-deadline so the running replicas stop writing, then on every node removes the
labels field manager nodemeta-controller owns, the taints with key prefix nodemeta.io/, and
uncordons the nodes nodemeta cordoned (annotation nodemeta.io/cordoned; a node someone else
cordoned stays cordoned). It logs each node, prints a one-line summary on stdout and exits 0 when
every node is clean, 1 otherwise. Running it again changes nothing. No --config needed.

Flags:
  --cleanup                   clean the nodes and exit (see above; honours --node-selector)
  --config FILE               configuration file (YAML, see docs/configuration.md); reloaded when it
                              changes, a rejected change keeps the last good configuration
  --default-config            run on the default configuration (no file)
  --dry-run                   decide everything, write nothing to nodes, evict nothing, ask for no
                              approval; each decision becomes a DryRun Event on its node and the
                              maintenance status is marked dryRun (docs/maintenance.md). Forces dry
                              run whatever the configuration's dryRun says; without the flag, the
                              configuration decides (and a reload can turn it on or off)
  --kubeconfig FILE           kubeconfig to use (default: the pod's service account)
  --leader-elect[=true|false] take part in Lease leader election (default: true);
                              --no-leader-elect runs alone (one replica only)
  --lease-namespace NS        namespace of the Lease (default: $POD_NAMESPACE or nodemeta-system)
  --lease-name NAME           name of the Lease (default: ${LEASE_NAME})
  --identity ID               this replica's identity in the Lease (default: $POD_NAME, else host_pid)
  --lease-duration DURATION   how long a Lease holds without renewal (default: 15s)
  --renew-deadline DURATION   how long the leader tries to renew before giving up (default: 10s)
  --retry-period DURATION     time between Lease attempts (default: 2s)
  --metrics-addr [HOST]:PORT  /metrics, /healthz and /readyz (default: :8080; port 0 picks one)
  --health-port PORT          same server, port only (overrides the port of --metrics-addr)
  --workers N                 nodes reconciled in parallel (default: 32)
  --cordon-workers N          nodes tainted and cordoned in parallel when maintenance is due, on a
                              fast path of its own that never waits behind other work (default: 32)
  --kube-api-qps QPS          client-side rate limit of API requests, per second (default: 200);
                              taints and cordons go first, Events last
  --kube-api-burst N          requests that may go at once above that rate (default: 300)
  --max-concurrent-evictions N  evictions in flight at once across all draining nodes (default: 50)
  --node-selector SELECTOR    only reconcile nodes matching this label selector (default: all)
  --log-level LEVEL           error, warn, info, debug (default: info)
  -h, --help                  show this text

Exit status (--cleanup: 0 every node clean, 1 some node not clean or the Lease not taken):
0 stopped by SIGTERM/SIGINT; 1 a fatal error (a lost lease is not one: the controller starts
again in the same process with fresh caches);
2 bad usage or an invalid configuration file at start.`;


export async function run(argv: string[]): Promise<number> {
  let options: ControllerOptions;
  try {
    const parsed = parseFlags(argv);
    if (parsed.help) {
      console.log(HELP);
      return 0;
    }
    if (parsed.cleanup) return await cleanup(parsed);
    options = await buildOptions(parsed);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    console.error(`nodemeta controller: ${message}${err instanceof UsageError ? '\nRun `nodemeta controller --help` for usage.' : ''}`);
    return 2;
  }

  const stop = new AbortController();
  const onSignal = (name: string) => {
    options.logger.info('shutting down', { signal: name });
    stop.abort();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  try {
    // A lost lease starts the controller again in this process (leadership-terms.ts); the timer
    // between terms keeps the process alive while nothing else is open.
    await runTerms(() => runController(options, stop.signal), stop.signal, { clock: systemClock, logger: options.logger });
    return 0;
  } catch (err) {
    options.logger.error('controller failed', { error: err instanceof Error ? err.message : String(err) });
    return 1;
  }
}

async function cleanup(flags: Flags): Promise<number> {
  const common = commonOptions(flags);
  const { logger } = common;
  const options: CleanupOptions = {
    ...common,
    renewDeadlineMs: flags.renewDeadlineMs,
    rateLimit: { qps: flags.qps, burst: flags.burst },
  };
  if (flags.nodeSelector !== undefined) options.nodeSelector = flags.nodeSelector;
  try {
    const summary = await runCleanup(options);
    console.log(summaryLine(summary));
    return summary.failed.length === 0 ? 0 : 1;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    logger.error('cleanup failed', { error: message });
    console.log(`nodemeta cleanup: FAILED before every node was checked: ${message}`);
    return 1;
  }
}

interface Flags {
  help: boolean;
  cleanup: boolean;
  dryRun: boolean;
  config?: string;
  defaultConfig: boolean;
  kubeconfig?: string;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  metricsHost: string;
  metricsPort: number;
  workers: number;
  cordonWorkers: number;
  qps: number;
  burst: number;
  maxConcurrentEvictions: number;
  nodeSelector?: string;
  logLevel: string;
}

function parseFlags(argv: string[]): Flags {
  let values;
  try {
    // Kubernetes components spell booleans --flag=false; parseArgs wants --no-flag.
    const args = argv.map((arg) => (arg === '--leader-elect=false' ? '--no-leader-elect' : arg === '--leader-elect=true' ? '--leader-elect' : arg));
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      allowNegative: true,
      options: {
        config: { type: 'string' },
        'default-config': { type: 'boolean', default: false },
        cleanup: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        kubeconfig: { type: 'string' },
        'leader-elect': { type: 'boolean', default: true },
        'lease-namespace': { type: 'string' },
        'lease-name': { type: 'string', default: LEASE_NAME },
        identity: { type: 'string' },
        'lease-duration': { type: 'string' },
        'renew-deadline': { type: 'string' },
        'retry-period': { type: 'string' },
        'metrics-addr': { type: 'string', default: ':8080' },
        'health-port': { type: 'string' },
        workers: { type: 'string', default: '32' },
        'cordon-workers': { type: 'string', default: String(DEFAULT_PROTECT_WORKERS) },
        'kube-api-qps': { type: 'string', default: String(DEFAULT_RATE_LIMIT.qps) },
        'kube-api-burst': { type: 'string', default: String(DEFAULT_RATE_LIMIT.burst) },
        'max-concurrent-evictions': { type: 'string', default: String(DEFAULT_MAX_CONCURRENT_EVICTIONS) },
        'node-selector': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return { help: true } as Flags;
  if (values.config === undefined && !values['default-config'] && !values.cleanup) throw new UsageError('--config FILE is required (or --default-config)');
  if (values.config !== undefined && values['default-config']) throw new UsageError('--config and --default-config exclude each other');
  // Cleanup is what an uninstall runs to take back what nodemeta wrote: it has nothing to simulate.
  if (values.cleanup && values['dry-run']) throw new UsageError('--cleanup has no dry run: it removes only what nodemeta wrote (see --help)');
  const workers = wholeNumber('--workers', values.workers, 1, 64);
  const cordonWorkers = wholeNumber('--cordon-workers', values['cordon-workers'], 1, 256);
  const burst = wholeNumber('--kube-api-burst', values['kube-api-burst'], 1, 100_000);
  const maxConcurrentEvictions = wholeNumber('--max-concurrent-evictions', values['max-concurrent-evictions'], 1, 10_000);
  const qps = Number(values['kube-api-qps']);
  if (!Number.isFinite(qps) || qps <= 0 || qps > 100_000) throw new UsageError(`--kube-api-qps must be a number above 0 and at most 100000 (got ${JSON.stringify(values['kube-api-qps'])})`);
  if (!['error', 'warn', 'info', 'debug'].includes(values['log-level'])) throw new UsageError(`--log-level must be error, warn, info or debug (got ${JSON.stringify(values['log-level'])})`);
  const { host, port } = parseListenAddress('--metrics-addr', values['metrics-addr'], values['health-port']);
  const timing = {
    leaseDurationMs: durationFlag('--lease-duration', values['lease-duration'], DEFAULT_LEADER_ELECTION.leaseDurationMs),
    renewDeadlineMs: durationFlag('--renew-deadline', values['renew-deadline'], DEFAULT_LEADER_ELECTION.renewDeadlineMs),
    retryPeriodMs: durationFlag('--retry-period', values['retry-period'], DEFAULT_LEADER_ELECTION.retryPeriodMs),
  };
  // client-go's checks: the leader must give up before another replica may take over.
  if (timing.leaseDurationMs <= timing.renewDeadlineMs) throw new UsageError('--lease-duration must be longer than --renew-deadline');
  if (timing.renewDeadlineMs <= timing.retryPeriodMs) throw new UsageError('--renew-deadline must be longer than --retry-period');
  const flags: Flags = {
    help: false,
    cleanup: values.cleanup,
    dryRun: values['dry-run'],
    defaultConfig: values['default-config'],
    leaderElect: values['leader-elect'],
    leaseNamespace: values['lease-namespace'] ?? (process.env.POD_NAMESPACE || 'nodemeta-system'),
    leaseName: values['lease-name'],
    identity: values.identity ?? defaultIdentity(),
    ...timing,
    metricsHost: host,
    metricsPort: port,
    workers,
    cordonWorkers,
    qps,
    burst,
    maxConcurrentEvictions,
    logLevel: values['log-level'],
  };
  if (values.config !== undefined) flags.config = values.config;
  if (values.kubeconfig !== undefined) flags.kubeconfig = values.kubeconfig;
  if (values['node-selector'] !== undefined) flags.nodeSelector = values['node-selector'];
  return flags;
}

function wholeNumber(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(text)})`);
  return value;
}

/** What the controller and its cleanup mode are both built with: the API client, logs and the Lease. */
function commonOptions(flags: Flags) {
  return {
    kubeConfig: loadKubeConfig(flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig }),
    logger: createLogger({ component: 'controller', level: flags.logLevel }),
    leaderElect: flags.leaderElect,
    leaseNamespace: flags.leaseNamespace,
    leaseName: flags.leaseName,
    identity: flags.identity,
  };
}

async function buildOptions(flags: Flags): Promise<ControllerOptions> {
  if (flags.config !== undefined) {
    // Checked here too so that a bad file stops the start with exit 2 and one clear line.
    const loaded = await loadConfigFile(flags.config);
    if (!loaded.ok) throw new Error(`invalid configuration ${flags.config}: ${loaded.errors.join('; ')}`);
  }
  const options: ControllerOptions = {
    ...commonOptions(flags),
    leaderElection: { leaseDurationMs: flags.leaseDurationMs, renewDeadlineMs: flags.renewDeadlineMs, retryPeriodMs: flags.retryPeriodMs },
    workers: flags.workers,
    protectWorkers: flags.cordonWorkers,
    rateLimit: { qps: flags.qps, burst: flags.burst },
    maxConcurrentEvictions: flags.maxConcurrentEvictions,
    metricsHost: flags.metricsHost,
    metricsPort: flags.metricsPort,
  };
  if (flags.config !== undefined) options.configPath = flags.config;
  if (flags.dryRun) options.dryRun = true;
  if (flags.nodeSelector !== undefined) options.nodeSelector = flags.nodeSelector;
  const podName = process.env.POD_NAME || undefined;
  const podNamespace = process.env.POD_NAMESPACE || undefined;
  if (podName !== undefined && podNamespace !== undefined) options.podRef = { apiVersion: 'v1', kind: 'Pod', name: podName, namespace: podNamespace };
  return options;
}
