// Structured JSON logs, one object a line, keys sorted (the lines winston's json format wrote, which
// this replaced): {"component":"agent","level":"info","message":"...",<fields>,"timestamp":"<ISO>"}.
// Written here in a few lines because the agent runs on every node: winston and its formats,
// streams and colour tables were about 85 modules and 1.4 MiB of every agent's RSS
// (test/bench/agent-memory.bench.mjs, docs/scaling.md).

/** winston's (npm's) levels, most severe first; a line is written when its level is at most the logger's. */
const LEVELS: Readonly<Record<string, number>> = { error: 0, warn: 1, info: 2, http: 3, verbose: 4, debug: 5, silly: 6 };
const INFO = 2;

export interface Logger {
  /** Fields on every line (a line's own fields win over them). */
  defaultMeta: Record<string, unknown> | undefined;
  log(level: string, message: string, fields?: object): void;
  error(message: string, fields?: object): void;
  warn(message: string, fields?: object): void;
  info(message: string, fields?: object): void;
  debug(message: string, fields?: object): void;
}

export interface LoggerOptions {
  component: string;
  level?: string;
  /** Where JSON lines go; defaults to stderr so that stdout stays free for command output. */
  stream?: NodeJS.WritableStream;
}

/** Structured JSON logs, one object a line, with the component name on every line. */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  // An unknown level logs as info (the commands check --log-level; LOG_LEVEL may say anything).
  return new JsonLogger(LEVELS[level] ?? INFO, { component: options.component }, options.stream ?? process.stderr);
}

/** A logger that drops everything: for tests and library callers that do not want output. */
export function silentLogger(): Logger {
  return new JsonLogger(-1, undefined, undefined);
}

class JsonLogger implements Logger {
  constructor(
    private readonly threshold: number,
    public defaultMeta: Record<string, unknown> | undefined,
    private readonly stream: NodeJS.WritableStream | undefined,
  ) {}

  log(level: string, message: string, fields?: object): void {
    const severity = LEVELS[level];
    if (this.stream === undefined || severity === undefined || severity > this.threshold) return;
    const line: Record<string, unknown> = { ...this.defaultMeta, ...fields, level, message };
    // As winston did: a field named message is appended to the message.
    const extra = (fields as { message?: unknown } | undefined)?.message;
    if (extra) line.message = `${message} ${String(extra)}`;
    line.timestamp = new Date().toISOString();
    this.stream.write(`${stableJson(line, []) ?? '{}'}\n`);
  }

  error(message: string, fields?: object): void {
    this.log('error', message, fields);
  }

  warn(message: string, fields?: object): void {
    this.log('warn', message, fields);
  }

  info(message: string, fields?: object): void {
    this.log('info', message, fields);
  }

  debug(message: string, fields?: object): void {
    this.log('debug', message, fields);
  }
}

/**
 * JSON with object keys sorted, a repeated ancestor written "[Circular]" and a bigint as a string
 * (what winston's json format, safe-stable-stringify, wrote); undefined where JSON has no value.
 */
function stableJson(input: unknown, ancestors: object[]): string | undefined {
  const value = typeof (input as { toJSON?: unknown } | null)?.toJSON === 'function' ? (input as { toJSON(): unknown }).toJSON() : input;
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return String(value);
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'object': {
      if (value === null) return 'null';
      if (ancestors.includes(value)) return '"[Circular]"';
      ancestors.push(value);
      let out: string;
      if (Array.isArray(value)) {
        out = `[${value.map((item) => stableJson(item, ancestors) ?? 'null').join(',')}]`;
      } else {
        const parts: string[] = [];
        for (const key of Object.keys(value).sort()) {
          const text = stableJson((value as Record<string, unknown>)[key], ancestors);
          if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
        }
        out = `{${parts.join(',')}}`;
      }
      ancestors.pop();
      return out;
    }
    default:
      return undefined;
  }
}
