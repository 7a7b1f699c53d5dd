// Read-your-writes over an informer cache. After the controller writes an object, the cache shows
// the old version until the watch event arrives; a reconcile in between (our own status write
// enqueues the node again, on another watch stream) would plan from the old version and send the
// same write again. So the reconciler remembers what each write returned and which versions it
// replaced, and reads the written object instead while the cache still shows a replaced version.
// Resource versions are only compared for equality, never ordered (the API's rule).

interface WithResourceVersion {
  metadata: { resourceVersion?: string };
}

export class ReadYourWrites<T extends WithResourceVersion> {
  private readonly entries = new Map<string, { replaced: Set<string>; latest: T }>();

  /** Records a write of `name`: it was based on `before` and the API server returned `after`. */
  wrote(name: string, before: T | undefined, after: T): void {
    const previous = this.entries.get(name);
    const replaced = previous?.replaced ?? new Set<string>();
    const version = before?.metadata.resourceVersion;
    if (version !== undefined) replaced.add(version);
    // Our earlier write is replaced too, whatever this one was based on: a background status report
    // stored just before a maintenance step's write (which waits for it) is older than the step, and
    // a cache showing it must not pass for the truth (it would replay the step: a second Completed).
    const earlier = previous?.latest.metadata.resourceVersion;
    if (earlier !== undefined && earlier !== after.metadata.resourceVersion) replaced.add(earlier);
    this.entries.set(name, { replaced, latest: after });
  }

  /** The cached object, or the one we wrote when the cache still shows a version our writes replaced. */
  read(name: string, cached: T | undefined): T | undefined {
    const entry = this.entries.get(name);
    if (entry === undefined) return cached;
    const version = cached?.metadata.resourceVersion;
    if (version !== undefined && entry.replaced.has(version)) return entry.latest;
    // The cache caught up (or moved past our write, or the object is gone): it is the truth again.
    this.entries.delete(name);
    return cached;
  }
}
