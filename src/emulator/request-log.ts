// What each VM's metadata service was asked, for tests to assert on ("the agent never read
// user-data", "it sent the token"). Token values are never kept.

import type { IncomingHttpHeaders } from 'node:http';

export interface LoggedRequest {
  time: string;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  /** 0 when the connection was reset without an answer. */
  status: number;
}

const REDACTED_HEADERS = new Set(['x-aliyun-ecs-metadata-token', 'authorization', 'cookie']);
const MAX_ENTRIES = 2000;

export class RequestLog {
  private entries: LoggedRequest[] = [];

  record(entry: Omit<LoggedRequest, 'headers'> & { headers: IncomingHttpHeaders }): void {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(entry.headers)) {
      if (value === undefined) continue;
      const lower = name.toLowerCase();
      headers[lower] = REDACTED_HEADERS.has(lower) ? '<redacted>' : Array.isArray(value) ? value.join(', ') : value;
    }
    this.entries.push({ ...entry, headers });
    // Bounded: a demo left running for a day must not grow without limit.
    if (this.entries.length > MAX_ENTRIES) this.entries.splice(0, this.entries.length - MAX_ENTRIES);
  }

  list(): LoggedRequest[] {
    return [...this.entries];
  }

  clear(): void {
    this.entries = [];
  }
}
