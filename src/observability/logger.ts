// Structured JSON logs, one object a line, keys sorted, written by winston (the design card's logging
// library) with logform's timestamp and json formats to a stream transport:
// {"component":"agent","level":"info","message":"...",<fields>,"timestamp":"<ISO>"}.
//
// winston is loaded file by file, not through its index, as prom-client is in agent/metrics.ts: the
// index also loads its Console, File and Http transports' lookup, its Container, profiler and every
// logform format, and the agent runs on every node (docs/scaling.md: what the agent's RSS is, as
// test/bench/agent-memory.bench.mjs measures it). The formats come from the logform that winston
// itself depends on (resolved from winston's directory), so they are always the pair winston ships.

import { createRequire } from 'node:module';
import type winston from 'winston';

type WinstonLogger = winston.Logger;
type LoggerClass = new (options: winston.LoggerOptions) => WinstonLogger;
type FormatWrap = (options?: object) => winston.Logform.Format;
type CombineFormats = (...formats: winston.Logform.Format[]) => winston.Logform.Format;

const require = createRequire(import.meta.url);
const WINSTON_LOGGER = require.resolve('winston/lib/winston/logger.js');
const WinstonLoggerClass = require(WINSTON_LOGGER) as LoggerClass;
const StreamTransport = require('winston/lib/winston/transports/stream.js') as typeof winston.transports.Stream;
const { npm } = require('winston/lib/winston/config/index.js') as typeof winston.config;
const fromWinston = createRequire(WINSTON_LOGGER);
const combine = fromWinston('logform/combine.js') as CombineFormats;
const timestamp = fromWinston('logform/timestamp.js') as FormatWrap;
const json = fromWinston('logform/json.js') as FormatWrap;

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
  const logger = new WinstonLoggerClass({
    // An unknown level logs as info (the commands check --log-level; LOG_LEVEL may say anything).
    level: Object.hasOwn(npm.levels, level) ? level : 'info',
    levels: npm.levels,
    format: combine(timestamp(), json()),
    transports: [new StreamTransport({ stream: options.stream ?? process.stderr })],
    exitOnError: false,
  });
  return new StructuredLogger(logger, { component: options.component });
}

/** A logger that drops everything: for tests and library callers that do not want output. */
export function silentLogger(): Logger {
  return new StructuredLogger(new WinstonLoggerClass({ silent: true, levels: npm.levels }), undefined);
}

/**
 * Our calls on a winston logger. Each line goes to winston as one info object, so that a message
 * holding `%s` is never taken for a format string (winston's log(level, message, meta) would then
 * drop the fields), and a line's own fields win over the default ones (winston's defaultMeta would
 * win over an info object's).
 */
class StructuredLogger implements Logger {
  constructor(
    private readonly winston: WinstonLogger,
    public defaultMeta: Record<string, unknown> | undefined,
  ) {}

  log(level: string, message: string, fields?: object): void {
    // A field named message is appended to the message, as winston's log(level, message, meta) does.
    const extra = (fields as { message?: unknown } | undefined)?.message;
    this.winston.log({ ...this.defaultMeta, ...fields, level, message: extra ? `${message} ${String(extra)}` : message });
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
