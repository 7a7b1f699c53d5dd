// metav1.Time's wire form: RFC 3339 in whole seconds (`2026-11-22T04:00:00Z`). What the API server
// stores and returns for a taint's timeAdded, an Event's timestamps, a pod's deletionTimestamp, and
// what nodemeta writes into the maintenance status. Like the rest of src/time/, imports nothing.

/** `time` as RFC 3339 in whole seconds (the milliseconds dropped, never rounded). */
export function rfc3339Seconds(time: Date | number): string {
  return (typeof time === 'number' ? new Date(time) : time).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
