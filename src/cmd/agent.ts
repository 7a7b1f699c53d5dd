// `nodemeta agent`: flags in, wiring, run. The logic lives in src/agent/.
import { PROVIDERS, type ProviderName } from '../api/observation.js';
import { systemClock } from '../time/clock.js';
import { isMetadataError } from '../agent/http/errors.js';
import { DEFAULT_TIMEOUTS } from '../agent/http/transport.js';
import { observeOnce } from '../agent/observe.js';
import type { MetadataProvider } from '../agent/providers/index.js';
import type { AlibabaAccessMode } from '../agent/providers/alibaba/client.js';
import { openProvider, runAgent } from '../agent/run-agent.js';
import { createLogger } from '../observability/logger.js';
import { UsageError, durationFlag, parseListenAddress } from './flags.js';

// Not `import { parseArgs } from 'node:util'`: an ES import of node:util reads every export for the
// module namespace, and its lazy getters load worker_threads, streams and assert's diff.
const { parseArgs } = process.getBuiltinModule('node:util');

const HELP = `Usage: nodemeta agent [flags]

Observes this VM through its cloud metadata service and publishes what it sees into the status of
NodeMetadata/<node>; approves an Azure scheduled event when the controller asks for it.
With --once: queries the service once and prints, as JSON on stdout, the observation the agent would
write, then exits. Logs go to stderr as JSON lines.

Metadata service:
  --provider azure|alibaba|auto   which metadata service (default: auto, probe both)
  --endpoint URL                  base URL of the service (default: http://169.254.169.254 for Azure,
                                  http://100.100.100.200 for Alibaba); for the emulator:
                                  http://127.0.0.1:PORT or http://127.0.0.1:PORT/vm/<vm-name>
  --alibaba-mode hardened|normal  Alibaba access mode (default: hardened, with a session token)
  --alibaba-tags                  also read the instance's tags (Alibaba; one request per tag and
                                  per directory of the keys holding "/")

One observation:
  --once                          query once, print the observation, exit
  --timeout DURATION              give up after this long (default: 150s). Azure's first
                                  scheduled-events request may take up to 2 minutes.

Long-running (the DaemonSet):
  --node-name NAME                this node (default: $NODE_NAME, from the downward API)
  --kubeconfig PATH               talk to the API server with this kubeconfig (default: in-cluster
                                  service-account credentials)
  --metrics-addr [HOST]:PORT      /metrics, /healthz, /readyz (default: :9102; port 0 picks one)
  --events-interval DURATION      maintenance polls (default: 1s on Azure, 5s on Alibaba)
  --instance-interval DURATION    instance facts and tags (default: 60s)
  --request-timeout DURATION      one metadata-service request gives up after this long (default:
                                  10s); a read tries 6 times before MetadataAvailable turns False
  --dry-run                       never approve a scheduled event, even when the status asks for
                                  it: log that it would have (the controller's dry run, see
                                  docs/maintenance.md); the observation is published as usual
  --log-level LEVEL               error, warn, info or debug (default: info, or $LOG_LEVEL)
  -h, --help                      show this text

Exit status: 0 done (or stopped by SIGTERM); 1 the metadata service could not be read (--once);
2 bad usage.`;

interface AgentFlags {
  once: boolean;
  provider: ProviderName | 'auto';
  endpoint: string | undefined;
  alibabaMode: AlibabaAccessMode;
  alibabaTags: boolean;
  timeoutMs: number;
  nodeName: string | undefined;
  kubeconfig: string | undefined;
  metrics: { host: string; port: number };
  eventsIntervalMs: number | undefined;
  instanceIntervalMs: number;
  requestTimeoutMs: number;
  logLevel: string | undefined;
  dryRun: boolean;
}

export async function run(argv: string[]): Promise<number> {
  let flags: AgentFlags;
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        once: { type: 'boolean', default: false },
        provider: { type: 'string', default: 'auto' },
        endpoint: { type: 'string' },
        'alibaba-mode': { type: 'string', default: 'hardened' },
        'alibaba-tags': { type: 'boolean', default: false },
        timeout: { type: 'string' },
        'node-name': { type: 'string' },
        kubeconfig: { type: 'string' },
        'metrics-addr': { type: 'string', default: ':9102' },
        'events-interval': { type: 'string' },
        'instance-interval': { type: 'string' },
        'request-timeout': { type: 'string' },
        'log-level': { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    flags = checkFlags(values);
  } catch (err) {
    console.error(`nodemeta agent: ${err instanceof Error ? err.message : String(err)}\nRun \`nodemeta agent --help\` for usage.`);
    return 2;
  }
  return flags.once ? runOnce(flags) : runAgent({ ...flags, nodeName: flags.nodeName as string });
}

function checkFlags(values: Record<string, string | boolean | undefined>): AgentFlags {
  const text = (name: string) => values[name] as string | undefined;
  const provider = text('provider') ?? 'auto';
  if (provider !== 'auto' && !(PROVIDERS as readonly string[]).includes(provider)) {
    throw new UsageError(`--provider must be azure, alibaba or auto, not "${provider}"`);
  }
  const mode = text('alibaba-mode') ?? 'hardened';
  if (mode !== 'hardened' && mode !== 'normal') throw new UsageError(`--alibaba-mode must be hardened or normal, not "${mode}"`);
  const endpoint = text('endpoint');
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new UsageError(`--endpoint "${endpoint}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--endpoint must be an http:// or https:// URL');
  }
  const once = values.once === true;
  const nodeName = text('node-name') || process.env.NODE_NAME || undefined;
  if (!once && !nodeName) throw new UsageError('the node name is needed: set NODE_NAME (downward API spec.nodeName) or --node-name');
  const logLevel = text('log-level');
  if (logLevel !== undefined && !['error', 'warn', 'info', 'debug'].includes(logLevel)) throw new UsageError(`--log-level must be error, warn, info or debug, not "${logLevel}"`);
  const eventsInterval = text('events-interval');
  return {
    once,
    provider: provider as ProviderName | 'auto',
    endpoint,
    alibabaMode: mode,
    alibabaTags: values['alibaba-tags'] === true,
    timeoutMs: durationFlag('--timeout', text('timeout'), 150_000),
    nodeName,
    kubeconfig: text('kubeconfig'),
    metrics: parseListenAddress('--metrics-addr', text('metrics-addr') ?? ':9102'),
    eventsIntervalMs: eventsInterval === undefined ? undefined : durationFlag('--events-interval', eventsInterval, 1_000),
    instanceIntervalMs: durationFlag('--instance-interval', text('instance-interval'), 60_000),
    requestTimeoutMs: durationFlag('--request-timeout', text('request-timeout'), DEFAULT_TIMEOUTS.requestTimeoutMs),
    logLevel,
    dryRun: values['dry-run'] === true,
  };
}

async function runOnce(flags: AgentFlags): Promise<number> {
  const logger = createLogger({ component: 'agent', level: flags.logLevel });
  const signal = AbortSignal.timeout(flags.timeoutMs);
  let provider: MetadataProvider | undefined;
  try {
    provider = await openProvider(flags, logger, signal);
    const observation = await observeOnce(provider, systemClock, signal);
    process.stdout.write(`${JSON.stringify(observation, null, 2)}\n`);
    return 0;
  } catch (err) {
    if (!isMetadataError(err)) throw err;
    const limit = signal.aborted ? ` (--timeout ${flags.timeoutMs / 1000} s reached)` : '';
    console.error(`nodemeta agent: ${err.message}${limit}`);
    return 1;
  } finally {
    await provider?.close();
  }
}
