// `nodemeta agent`: flags in, wiring, run. The logic lives in src/agent/.
import { parseArgs } from 'node:util';
import { PROVIDERS, type ProviderName } from '../api/observation.js';
import { systemClock } from '../agent/http/clock.js';
import { isMetadataError } from '../agent/http/errors.js';
import { DEFAULT_BUDGET, TokenBucket } from '../agent/http/token-bucket.js';
import { observeOnce } from '../agent/observe.js';
import { createProvider } from '../agent/providers/index.js';
import type { AlibabaAccessMode } from '../agent/providers/alibaba/client.js';
import { createLogger } from '../observability/logger.js';

const DEFAULT_TIMEOUT_MS = 150_000;

const HELP = `Usage: nodemeta agent --once [flags]

Observes this VM through its cloud metadata service. With --once: queries the service once and prints,
as JSON on stdout, the observation the agent would write into its NodeMetadata status. Logs go to
stderr as JSON lines.

Flags:
  --once                          query once, print the observation, exit
  --provider azure|alibaba|auto   which metadata service (default: auto, probe both)
  --endpoint URL                  base URL of the service (default: http://169.254.169.254 for Azure,
                                  http://100.100.100.200 for Alibaba); for the emulator:
                                  http://127.0.0.1:PORT or http://127.0.0.1:PORT/vm/<vm-name>
  --alibaba-mode hardened|normal  Alibaba access mode (default: hardened, with a session token)
  --alibaba-tags                  also read the instance's tags (Alibaba; one request per tag)
  --timeout DURATION              give up after this long (default: 150s; e.g. 20s, 2m, 500ms).
                                  Azure's first scheduled-events request may take up to 2 minutes.
  -h, --help                      show this text

Exit status: 0 observation printed; 1 the metadata service could not be read; 2 bad usage.
The long-running mode (polling and publishing to NodeMetadata) is not implemented yet.`;

interface AgentFlags {
  provider: ProviderName | 'auto';
  endpoint: string | undefined;
  alibabaMode: AlibabaAccessMode;
  alibabaTags: boolean;
  timeoutMs: number;
}

class UsageError extends Error {}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
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
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    console.error(`nodemeta agent: ${err instanceof Error ? err.message : String(err)}\nRun \`nodemeta agent --help\` for usage.`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let flags: AgentFlags;
  try {
    flags = checkFlags(values);
  } catch (err) {
    console.error(`nodemeta agent: ${err instanceof Error ? err.message : String(err)}\nRun \`nodemeta agent --help\` for usage.`);
    return 2;
  }
  if (!values.once) {
    console.error('nodemeta agent: not yet implemented: the long-running mode; use --once');
    return 2;
  }
  return runOnce(flags);
}

function checkFlags(values: {
  provider?: string;
  endpoint?: string;
  'alibaba-mode'?: string;
  'alibaba-tags'?: boolean;
  timeout?: string;
}): AgentFlags {
  const provider = values.provider ?? 'auto';
  if (provider !== 'auto' && !(PROVIDERS as readonly string[]).includes(provider)) {
    throw new UsageError(`--provider must be azure, alibaba or auto, not "${provider}"`);
  }
  const mode = values['alibaba-mode'] ?? 'hardened';
  if (mode !== 'hardened' && mode !== 'normal') throw new UsageError(`--alibaba-mode must be hardened or normal, not "${mode}"`);
  if (values.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(values.endpoint);
    } catch {
      throw new UsageError(`--endpoint "${values.endpoint}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--endpoint must be an http:// or https:// URL');
  }
  const timeoutMs = values.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDurationMs(values.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout "${values.timeout}" is not a positive duration (e.g. 30s, 2m, 500ms)`);
  return {
    provider: provider as ProviderName | 'auto',
    endpoint: values.endpoint,
    alibabaMode: mode,
    alibabaTags: values['alibaba-tags'] ?? false,
    timeoutMs,
  };
}

/** `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1_000;
  return Math.round(Number(m[1]) * unit);
}

async function runOnce(flags: AgentFlags): Promise<number> {
  const logger = createLogger({ component: 'agent' });
  const signal = AbortSignal.timeout(flags.timeoutMs);
  const budget = new TokenBucket({ ...DEFAULT_BUDGET, clock: systemClock });
  let provider;
  try {
    provider = await createProvider({
      provider: flags.provider,
      endpoint: flags.endpoint,
      alibabaMode: flags.alibabaMode,
      alibabaTags: flags.alibabaTags,
      budget,
      clock: systemClock,
      random: Math.random,
      logger,
      signal,
    });
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
