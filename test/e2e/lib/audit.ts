// The API server as witness: a reader of the local cluster's audit log (scripts/cluster-up.sh writes
// it, docs/cluster.md says what its policy keeps). The processes under test cannot make it say
// anything: it is what the real server received from each identity, with the verb, the object and
// the answer's code. Use it where a test would otherwise trust the logs or the metrics of the process
// it checks:
//
//   const audit = auditLog();
//   audit.writesBy(controller.user, lostAt + RENEW_DEADLINE_MS);   // [] if it stopped in time
//   audit.evictionsByPod(startedAt, { namespace });               // "ns/pod" -> accepted evictions
//
// The policy logs writes only (create, update, patch, delete) to Nodes, Pods (and their eviction and
// status), Events, Leases (not kwok's node Leases) and NodeMetadata, at Metadata level, one event per
// request once its answer is complete. The log mode is blocking: an event is in the file before the
// server answers, so a write whose effect the test has seen is already there to read.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { clusterInfo } from './cluster.js';

/** One audit event (audit.k8s.io/v1 Event), the fields the tests read. */
export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number; reason?: string };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

/** An event with its instants as epoch milliseconds. */
export interface AuditEntry extends AuditEvent {
  /** When the server received the request (epoch ms, to the millisecond). */
  receivedAt: number;
  /** When its answer was complete (epoch ms). */
  completedAt: number;
}

export const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection'] as const;

export interface AuditFilter {
  /** The authenticated user name(s): `nodemeta-admin` (the admin kubeconfig), `system:serviceaccount:<ns>:<name>`. */
  user?: string | readonly string[];
  verb?: string | readonly string[];
  /** The resource, e.g. `pods`, `nodes`, `nodemetadatas`. */
  resource?: string;
  /** The subresource (`eviction`, `status`); null: the object itself, no subresource. */
  subresource?: string | null;
  namespace?: string;
  name?: string | readonly string[];
  /** Received at or after this instant (epoch ms). */
  since?: number;
  /** Received before this instant (epoch ms). */
  until?: number;
  /** Only answers with a code this accepts (e.g. `(code) => code === 201`). */
  code?: (code: number) => boolean;
}

const oneOf = (wanted: string | readonly string[] | undefined, value: string | undefined) =>
  wanted === undefined || (typeof wanted === 'string' ? wanted === value : value !== undefined && wanted.includes(value));

function matches(entry: AuditEntry, filter: AuditFilter): boolean {
  const ref = entry.objectRef ?? {};
  return (
    oneOf(filter.user, entry.user.username) &&
    oneOf(filter.verb, entry.verb) &&
    oneOf(filter.resource, ref.resource) &&
    (filter.subresource === undefined || (filter.subresource === null ? ref.subresource === undefined || ref.subresource === '' : ref.subresource === filter.subresource)) &&
    oneOf(filter.namespace, ref.namespace) &&
    oneOf(filter.name, ref.name) &&
    (filter.since === undefined || entry.receivedAt >= filter.since) &&
    (filter.until === undefined || entry.receivedAt < filter.until) &&
    (filter.code === undefined || filter.code(entry.responseStatus?.code ?? 0))
  );
}

/** A read of the audit log (the current file and any rotated ones), from the start each time. */
export class AuditLog {
  constructor(private readonly file: string) {}

  /** Every event, oldest first (a line being written at the moment of the read is left for the next one). */
  entries(): AuditEntry[] {
    const dir = path.dirname(this.file);
    const base = path.basename(this.file, '.log');
    // lumberjack's backups: <base>-<time>.log, named so that their order is their age.
    const rotated = readdirSync(dir)
      .filter((name) => name.startsWith(`${base}-`) && name.endsWith('.log'))
      .sort()
      .map((name) => path.join(dir, name));
    const entries: AuditEntry[] = [];
    for (const file of [...rotated, this.file]) {
      if (!existsSync(file)) continue;
      const lines = readFileSync(file, 'utf8').split('\n');
      for (const [i, line] of lines.entries()) {
        if (line === '') continue;
        let event: AuditEvent;
        try {
          event = JSON.parse(line) as AuditEvent;
        } catch (error) {
          if (i === lines.length - 1) continue; // being written: read next time
          throw new Error(`${file}:${i + 1}: not an audit event: ${(error as Error).message}`, { cause: error });
        }
        entries.push({ ...event, receivedAt: Date.parse(event.requestReceivedTimestamp), completedAt: Date.parse(event.stageTimestamp) });
      }
    }
    return entries.sort((a, b) => a.receivedAt - b.receivedAt);
  }

  /** The events `filter` keeps, oldest first. */
  events(filter: AuditFilter = {}): AuditEntry[] {
    return this.entries().filter((entry) => matches(entry, filter));
  }

  /** Every write `user` made (any verb of WRITE_VERBS, any answer) received at or after `since`. */
  writesBy(user: string | readonly string[], since: number, filter: Omit<AuditFilter, 'user' | 'since' | 'verb'> = {}): AuditEntry[] {
    return this.events({ ...filter, user, since, verb: WRITE_VERBS });
  }

  /**
   * The accepted evictions (a create of pods/eviction answered 201) received at or after `since`, by
   * pod ("ns/name"); `filter` narrows them (by user, namespace, ...).
   */
  evictionsByPod(since: number, filter: Omit<AuditFilter, 'resource' | 'subresource' | 'verb' | 'since' | 'code'> = {}): Map<string, AuditEntry[]> {
    const byPod = new Map<string, AuditEntry[]>();
    for (const entry of this.events({ ...filter, since, resource: 'pods', subresource: 'eviction', verb: 'create', code: (code) => code === 201 })) {
      const key = `${entry.objectRef?.namespace}/${entry.objectRef?.name}`;
      byPod.set(key, [...(byPod.get(key) ?? []), entry]);
    }
    return byPod;
  }
}

/** One line per event, for failure messages: when, who, what, answer. */
export function describeAudit(entries: readonly AuditEntry[]): string[] {
  return entries.map((e) => {
    const ref = e.objectRef ?? {};
    const object = `${ref.resource ?? '?'}${ref.subresource ? `/${ref.subresource}` : ''} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name ?? ''}`;
    return `${new Date(e.receivedAt).toISOString()} ${e.user.username} ${e.verb} ${object} -> ${e.responseStatus?.code ?? '?'}`;
  });
}

/** The running cluster's audit log; throws if the cluster was started without one (an older cluster-up.sh: start it again). */
export function auditLog(): AuditLog {
  const info = clusterInfo();
  const file = info.auditLog ?? path.join(info.clusterDir, 'audit.log');
  if (!existsSync(file)) throw new Error(`the cluster at ${info.clusterDir} has no audit log (${file}): it was started by an older scripts/cluster-up.sh; stop it and start it again`);
  return new AuditLog(file);
}
