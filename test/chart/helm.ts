// The pinned helm (test/tools/build.sh) and the chart's files, for the chart tests and the chart's
// end-to-end tests. Helm is stamped to assume Kubernetes 1.36 when it has no cluster.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART_DIR = path.join(REPO_ROOT, 'charts/nodemeta');
export const GOLDEN_DIR = path.join(REPO_ROOT, 'test/chart/golden');
export const RELEASE = 'nodemeta';
export const NAMESPACE = 'nodemeta-system';

/** Values files the golden renders cover: name → path relative to the chart ('' = defaults only). */
export const VALUE_SETS: Record<string, string> = {
  default: '',
  aks: 'values-aks.yaml',
  ack: 'values-ack.yaml',
};

/** Path of the pinned helm binary; throws with the fix when the tools are not built. */
export function helmPath(): string {
  const dir = process.env.CLUSTER_BIN_DIR ?? execFileSync(path.join(REPO_ROOT, 'test/tools/build.sh'), ['--print-dir'], { encoding: 'utf8' }).trim();
  const helm = path.join(dir, 'helm');
  if (!existsSync(helm)) throw new Error(`helm is not built (${helm} missing): run 'make tools' (test/tools/build.sh)`);
  return helm;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm without throwing on a non-zero exit. HOME-independent: helm's caches go to a temp dir. */
export function helm(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<HelmResult> {
  const scratch = path.join(REPO_ROOT, '.cache/helm');
  const env = {
    ...process.env,
    HELM_CACHE_HOME: path.join(scratch, 'cache'),
    HELM_CONFIG_HOME: path.join(scratch, 'config'),
    HELM_DATA_HOME: path.join(scratch, 'data'),
    ...opts.env,
  };
  return new Promise((resolve, reject) => {
    execFile(helmPath(), args, { env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') {
        reject(err);
        return;
      }
      resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
    });
  });
}

/** `helm template` of the chart with the given values files and extra args; throws on failure. */
export async function renderChart(valuesFiles: string[] = [], extra: string[] = []): Promise<string> {
  const args = ['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '--include-crds'];
  for (const f of valuesFiles) args.push('--values', path.isAbsolute(f) ? f : path.join(CHART_DIR, f));
  const r = await helm([...args, ...extra]);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function valuesFilesOf(set: string): string[] {
  const file = VALUE_SETS[set];
  if (file === undefined) throw new Error(`unknown value set ${set}`);
  return file === '' ? [] : [file];
}

// A Kubernetes object as rendered; loose on purpose (tests read into it).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> }; [key: string]: any };

/** The rendered documents, without empty ones. */
export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null && typeof m === 'object');
}

export function findManifest(manifests: Manifest[], kind: string, name: string): Manifest {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`no ${kind}/${name} in the render (have: ${manifests.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')})`);
  return m;
}

export function readChartFile(rel: string): string {
  return readFileSync(path.join(CHART_DIR, rel), 'utf8');
}
