// The nodemeta image as shipped, without a container engine (issue 11): its file system built the
// way the Dockerfile builds it, and a pod's container run from it in a sandbox of namespaces and
// read-only bind mounts (image-sandbox.sh) with the pod's command, arguments, environment, volumes
// and user, as the kubelet and a container runtime would run it. docs/cluster.md#the-artefact-as-shipped
// says what this proves and what only a real image build does.
//
//   const image = readDockerfile();                     // the runtime stage: entrypoint, user, env
//   const app = await stageImageApp(scratch);           // /app: package.json, node_modules, dist
//   const launch = await containerLaunch({ image, pod, containerName: 'agent', ... }); // as the kubelet would
//   const run = startInSandbox({ name: 'agent', image, app, launch, scratch });
//   await run.stop();                                   // SIGTERM to the process (PID 1); its exit code
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, hostname } from 'node:os';
import path from 'node:path';
import type { V1Container, V1EnvVar, V1Pod, V1Volume } from '@kubernetes/client-node';
import { REPO_ROOT } from './cluster.js';

export const SANDBOX_SCRIPT = path.join(REPO_ROOT, 'test/e2e/lib/image-sandbox.sh');
export const DOCKERFILE = path.join(REPO_ROOT, 'Dockerfile');

/** The runtime stage of the Dockerfile, as the test needs it. */
export interface ImageConfig {
  entrypoint: string[];
  workdir: string;
  /** `USER uid:gid`, numeric. */
  user: { uid: number; gid: number };
  env: Record<string, string>;
  /** `COPY --from=build` of the runtime stage: source in the build stage → path in the image. */
  copies: { from: string; to: string; chown: string | undefined }[];
  /** The build stage's RUN commands, joined. */
  buildCommands: string;
}

/** Reads the Dockerfile (no line continuations inside ENTRYPOINT, ENV, USER, WORKDIR or COPY). */
export function readDockerfile(file = DOCKERFILE): ImageConfig {
  const lines = readFileSync(file, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: string[][] = [];
  for (const line of lines) {
    if (/^FROM\s/i.test(line)) stages.push([]);
    stages.at(-1)?.push(line);
  }
  const runtime = stages.at(-1);
  const build = stages.at(0);
  if (!runtime || !build || stages.length < 2) throw new Error(`${file}: expected a build stage and a runtime stage`);
  const instruction = (name: string) => runtime.filter((l) => l.toUpperCase().startsWith(`${name} `)).map((l) => l.slice(name.length).trim());
  const entrypoint = JSON.parse(instruction('ENTRYPOINT').at(-1) ?? 'null') as string[] | null;
  const workdir = instruction('WORKDIR').at(-1);
  const user = /^(\d+):(\d+)$/.exec(instruction('USER').at(-1) ?? '');
  if (!entrypoint || !workdir || !user) throw new Error(`${file}: the runtime stage needs an exec-form ENTRYPOINT, WORKDIR and a numeric USER uid:gid`);
  const env: Record<string, string> = {};
  for (const e of instruction('ENV')) {
    for (const m of e.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  const copies = instruction('COPY').map((c) => {
    const words = c.split(/\s+/);
    const flags = words.filter((w) => w.startsWith('--'));
    const [from, to] = words.filter((w) => !w.startsWith('--'));
    if (!flags.includes('--from=build') || !from || !to) throw new Error(`${file}: unexpected COPY in the runtime stage: ${c}`);
    return { from, to: path.posix.resolve(workdir, to), chown: flags.find((f) => f.startsWith('--chown='))?.slice('--chown='.length) };
  });
  const buildCommands = build
    .filter((l) => /^RUN\s/i.test(l))
    .map((l) => l.slice(3).trim())
    .join(' && ');
  return { entrypoint, workdir, user: { uid: Number(user[1]), gid: Number(user[2]) }, env, copies, buildCommands };
}

function run(command: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: opts.cwd, timeout: opts.timeoutMs ?? 300_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * The production node_modules, as `npm install` then `npm prune --omit=dev --ignore-scripts` leave
 * them in the Dockerfile's build stage: installed once per package.json + package-lock.json into
 * $NODEMETA_CACHE/artefact/ (a fresh clone on this machine reuses it; the npm cache makes a fresh
 * build quick) and mounted read-only, never copied.
 */
export async function productionNodeModules(): Promise<string> {
  const manifest = readFileSync(path.join(REPO_ROOT, 'package.json'));
  const lock = readFileSync(path.join(REPO_ROOT, 'package-lock.json'));
  const key = createHash('sha256').update(manifest).update('\0').update(lock).digest('hex').slice(0, 16);
  const cacheRoot = path.join(process.env.NODEMETA_CACHE ?? path.join(homedir(), '.cache/nodemeta'), 'artefact');
  const dir = path.join(cacheRoot, `node_modules-${key}`);
  const marker = path.join(dir, '.complete');
  if (!existsSync(marker)) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    writeFileSync(path.join(tmp, 'package.json'), manifest);
    writeFileSync(path.join(tmp, 'package-lock.json'), lock);
    await run('npm', ['install', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: tmp });
    writeFileSync(path.join(tmp, '.complete'), `${new Date().toISOString()}\n`);
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another run finished first: same key, same tree
    }
  }
  // The marker's time says when a tree was last used; trees of old package files go after 14 days.
  const now = new Date();
  utimesSync(marker, now, now);
  for (const other of readdirSync(cacheRoot)) {
    const otherMarker = path.join(cacheRoot, other, '.complete');
    if (/^node_modules-[0-9a-f]{16}$/.test(other) && existsSync(otherMarker) && now.getTime() - statSync(otherMarker).mtimeMs > 14 * 86_400_000) {
      rmSync(path.join(cacheRoot, other), { recursive: true, force: true });
    }
  }
  return path.join(dir, 'node_modules');
}

/** What the image's WORKDIR holds, staged on the host. */
export interface StagedApp {
  /** package.json, dist/ (without *.map) and an empty node_modules/ (a mount point). */
  dir: string;
  nodeModules: string;
}

/** Copies dist/ (the work tree's build, `make build`) and package.json; node_modules come from the cache. */
export async function stageImageApp(scratch: string): Promise<StagedApp> {
  const dist = path.join(REPO_ROOT, 'dist');
  if (!existsSync(path.join(dist, 'cmd/nodemeta.js'))) throw new Error(`${dist}/cmd/nodemeta.js is missing: run 'make build' first`);
  const nodeModules = await productionNodeModules();
  const dir = path.join(scratch, 'app');
  mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  cpSync(path.join(REPO_ROOT, 'package.json'), path.join(dir, 'package.json'));
  // `find dist -name '*.map' -delete`, as the build stage does.
  cpSync(dist, path.join(dir, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  chmodSync(dir, 0o755);
  return { dir, nodeModules };
}

/** The distroless base's user database (its nonroot user is 65532) and home directory, modelled. */
function writeBase(dir: string, user: { uid: number; gid: number }): void {
  mkdirSync(path.join(dir, 'etc'), { recursive: true });
  mkdirSync(path.join(dir, 'home/nonroot'), { recursive: true });
  chownSync(path.join(dir, 'home/nonroot'), user.uid, user.gid);
  chmodSync(path.join(dir, 'home/nonroot'), 0o700);
  writeFileSync(
    path.join(dir, 'etc/passwd'),
    `root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:${user.uid}:${user.gid}:nonroot:/home/nonroot:/sbin/nologin\n`,
  );
  writeFileSync(path.join(dir, 'etc/group'), `root:x:0:\nnobody:x:65534:\nnonroot:x:${user.gid}:\n`);
}

/** A kubelet volume: the files behind a `..data` symlink, as the atomic writer lays them out. */
export function writeKubeletVolume(dir: string, files: Record<string, string>): void {
  const version = `..${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  mkdirSync(path.join(dir, version), { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, version, file), text, { mode: 0o644 });
  symlinkSync(version, path.join(dir, '..data'));
  for (const file of Object.keys(files)) symlinkSync(path.join('..data', file), path.join(dir, file));
  chmodSync(dir, 0o755);
}

/** One mount of the container: a host directory (prepared by the caller) at a path. */
export interface SandboxMount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Supplies the contents of a pod's volume: files for the read-only kinds, or 'emptyDir'. */
export type VolumeSource = (volume: V1Volume) => Promise<Record<string, string> | 'emptyDir'>;

/** The container as the kubelet would start it from the image. */
export interface ContainerLaunch {
  argv: string[];
  env: Record<string, string>;
  user: { uid: number; gid: number };
  mounts: SandboxMount[];
  /** Host directories behind the container's emptyDir volumes (the test checks that nothing was written there). */
  emptyDirs: string[];
}

/** The value of a downward-API field of the pod; throws for one the test does not know. */
function fieldOf(pod: V1Pod, fieldPath: string): string {
  const values: Record<string, string | undefined> = {
    'metadata.name': pod.metadata?.name,
    'metadata.namespace': pod.metadata?.namespace,
    'metadata.uid': pod.metadata?.uid,
    'spec.nodeName': pod.spec?.nodeName,
    'spec.serviceAccountName': pod.spec?.serviceAccountName,
    'status.hostIP': pod.status?.hostIP,
    'status.podIP': pod.status?.podIP,
  };
  const v = values[fieldPath];
  if (v === undefined) throw new Error(`downward API field ${fieldPath} of pod ${pod.metadata?.name}: not supported by the artefact test`);
  return v;
}

function envValue(pod: V1Pod, e: V1EnvVar): string {
  if (e.value !== undefined) return e.value;
  if (e.valueFrom?.fieldRef) return fieldOf(pod, e.valueFrom.fieldRef.fieldPath);
  throw new Error(`env ${e.name}: only values and fieldRef are supported by the artefact test (got ${JSON.stringify(e.valueFrom)})`);
}

/**
 * Command, arguments, environment, user and mounts of `containerName` in `pod` (as the API server
 * stored it: with the service-account volume its admission added), on the image `image`:
 * Kubernetes' rules (command replaces ENTRYPOINT, args replace CMD; the container's securityContext
 * over the pod's over the image's USER) and the environment a runtime gives (the image's ENV, HOME
 * from the user database, HOSTNAME, the API server's service variables, then the container's env).
 */
export async function containerLaunch(opts: {
  image: ImageConfig;
  pod: V1Pod;
  containerName: string;
  apiServer: { host: string; port: number };
  volumeSource: VolumeSource;
  scratch: string;
}): Promise<ContainerLaunch> {
  const { image, pod } = opts;
  const container: V1Container | undefined = pod.spec?.containers.find((c) => c.name === opts.containerName);
  if (!container) throw new Error(`pod ${pod.metadata?.name} has no container ${opts.containerName}`);
  if (container.envFrom?.length) throw new Error('envFrom is not supported by the artefact test');
  const argv = [...(container.command ?? image.entrypoint), ...(container.args ?? [])];
  const sc = { ...pod.spec?.securityContext, ...container.securityContext };
  const user = { uid: sc.runAsUser ?? image.user.uid, gid: sc.runAsGroup ?? image.user.gid };
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...image.env,
    HOSTNAME: pod.spec?.hostNetwork ? hostname() : (pod.metadata?.name ?? ''),
    HOME: '/home/nonroot',
    // The kubelet's variables for the `kubernetes` Service, here the API server on loopback.
    KUBERNETES_SERVICE_HOST: opts.apiServer.host,
    KUBERNETES_SERVICE_PORT: String(opts.apiServer.port),
    KUBERNETES_SERVICE_PORT_HTTPS: String(opts.apiServer.port),
  };
  for (const e of container.env ?? []) env[e.name] = envValue(pod, e);

  const mounts: SandboxMount[] = [];
  const emptyDirs: string[] = [];
  for (const [i, m] of (container.volumeMounts ?? []).entries()) {
    if (m.subPath || m.subPathExpr) throw new Error(`volume mount ${m.name}: subPath is not supported by the artefact test`);
    const volume = pod.spec?.volumes?.find((v) => v.name === m.name);
    if (!volume) throw new Error(`volume mount ${m.name}: no such volume in pod ${pod.metadata?.name}`);
    const dir = path.join(opts.scratch, `volume-${i}-${m.name}`);
    const contents = await opts.volumeSource(volume);
    if (contents === 'emptyDir') {
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o777); // the kubelet's emptyDir mode
      emptyDirs.push(dir);
    } else {
      writeKubeletVolume(dir, contents);
    }
    mounts.push({ source: dir, target: m.mountPath, readOnly: m.readOnly === true });
  }
  return { argv, env, user, mounts, emptyDirs };
}

/** A free TCP port on every interface (the processes listen on `:PORT`, as in the pod). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The commands image-sandbox.sh runs before the container's process (their `comm`). */
const LAUNCHER_COMMANDS = new Set([path.basename(SANDBOX_SCRIPT).slice(0, 15), 'bash', 'env', 'setpriv', 'unshare']);

/** A process running in the sandbox. */
export interface SandboxedProcess {
  name: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** The host pid of the container's process (PID 1 of its namespace), once it runs. */
  pid(): number | undefined;
  /** Lines of /proc/<pid>/status of the container's process (Uid, Gid, Groups, Cap*, NoNewPrivs, NSpid). */
  status(): Record<string, string>;
  /** SIGTERM to the container's process, as the kubelet stops a container; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL to everything (cleanup). */
  kill(): void;
}

/**
 * Starts `launch.argv` in image-sandbox.sh: the staged /app, the Node.js binary at the entrypoint's
 * path, the container's mounts, its user, WORKDIR and exactly its environment.
 */
export function startInSandbox(opts: { name: string; image: ImageConfig; app: StagedApp; launch: ContainerLaunch; scratch: string }): SandboxedProcess {
  const { image, app, launch } = opts;
  const dir = path.join(opts.scratch, `sandbox-${opts.name}-${Math.random().toString(36).slice(2, 8)}`);
  const base = path.join(dir, 'base');
  const mountpoint = path.join(dir, 'root');
  mkdirSync(mountpoint, { recursive: true });
  writeBase(base, image.user);
  const node = image.entrypoint[0];
  if (!node) throw new Error('the image has no entrypoint');
  const args = ['--mountpoint', mountpoint, '--base', base, '--user', `${launch.user.uid}:${launch.user.gid}`, '--workdir', image.workdir];
  // The Node.js 24 this machine runs (the Makefile's), where distroless has its own.
  args.push('--executable', `${process.execPath}:${node}`);
  args.push('--bind', `${app.dir}:${image.workdir}`, '--bind', `${app.nodeModules}:${path.posix.join(image.workdir, 'node_modules')}`);
  for (const m of launch.mounts) args.push('--bind', `${m.source}:${m.target}:${m.readOnly ? 'ro' : 'rw'}`);
  for (const [k, v] of Object.entries(launch.env)) args.push('--env', `${k}=${v}`);
  const child = spawn('bash', [SANDBOX_SCRIPT, ...args, '--', ...launch.argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  void exited.then(() => rmSync(dir, { recursive: true, force: true }));
  // The spawned script becomes `unshare --fork`; the container's process is its only child.
  const pid = () => {
    if (child.pid === undefined || child.exitCode !== null) return undefined;
    try {
      const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      if (children.length !== 1) return undefined;
      // Not yet there while the launcher's chain of execs runs (Node names its main thread MainThread).
      const comm = readFileSync(`/proc/${children[0]}/comm`, 'utf8').trim();
      return LAUNCHER_COMMANDS.has(comm) ? undefined : Number(children[0]);
    } catch {
      return undefined;
    }
  };
  return {
    name: opts.name,
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    pid,
    status() {
      const p = pid();
      if (p === undefined) throw new Error(`${opts.name} is not running`);
      const lines = readFileSync(`/proc/${p}/status`, 'utf8').split('\n');
      return Object.fromEntries(lines.map((l) => l.split(':\t')).filter((kv) => kv.length === 2).map(([k, v]) => [k!, v!.trim()]));
    },
    async stop(timeoutMs = 30_000) {
      const p = pid();
      if (p === undefined) throw new Error(`${opts.name} is not running (exit code ${child.exitCode}): ${err.slice(-2000)}`);
      process.kill(p, 'SIGTERM');
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
      const r = await Promise.race([exited, timer]);
      if (r === 'timeout') throw new Error(`${opts.name} did not exit within ${timeoutMs} ms of SIGTERM`);
      return r;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); // --kill-child takes the process with it
    },
  };
}

/** Files under `dir`, recursively (empty when nothing was written). */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' });
}
