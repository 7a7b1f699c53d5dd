import winston from 'winston';

export type Logger = winston.Logger;

export interface LoggerOptions {
  component: string;
  level?: string;
  /** Where JSON lines go; defaults to stderr so that stdout stays free for command output. */
  stream?: NodeJS.WritableStream;
}

/** Structured JSON logs, one object a line, with the component name on every line. */
export function createLogger(options: LoggerOptions): Logger {
  return winston.createLogger({
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    defaultMeta: { component: options.component },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json()),
    transports: [new winston.transports.Stream({ stream: options.stream ?? process.stderr })],
  });
}

/** A logger that drops everything: for tests and library callers that do not want output. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
