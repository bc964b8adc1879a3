// Cluster names (as used in migration inputs) resolved to API clients, from the worker configuration.
// Credentials stay in the kubeconfig files the configuration points at.
import { statSync } from 'node:fs';
import { AppsV1Api, AutoscalingV2Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { ClusterConfig } from '../api/config.js';

export class Clusters {
  /** Loaded kubeconfigs, reloaded when the file changes (rotated credentials, a rebuilt cluster). */
  private readonly kubeConfigs = new Map<string, { kc: KubeConfig; mtimeMs: number }>();
  private readonly configs: Record<string, ClusterConfig>;

  constructor(configs: Record<string, ClusterConfig>) {
    this.configs = configs;
  }

  names(): string[] {
    return Object.keys(this.configs);
  }

  /** Each configured cluster's Liqo cluster id (liqo.clusterId, by default its name here), by name. */
  liqoClusterIds(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.configs).map(([name, config]) => [name, config.liqo?.clusterId ?? name]));
  }

  kubeConfig(cluster: string): KubeConfig {
    // Own keys only: a cluster named "constructor" or "__proto__" is unknown, not an Object.prototype member.
    const config = Object.hasOwn(this.configs, cluster) ? this.configs[cluster] : undefined;
    const cached = this.kubeConfigs.get(cluster);
    if (cached && config && cached.mtimeMs === mtime(config.kubeconfig)) return cached.kc;
    if (!config) {
      throw ApplicationFailure.nonRetryable(
        `unknown cluster "${cluster}": the worker configuration knows ${this.names().map((n) => `"${n}"`).join(', ') || 'no clusters'}; ` +
          'add it under `clusters:` (kubeconfig + context) or use one of those names',
        'UnknownCluster',
      );
    }
    const kc = new KubeConfig();
    kc.loadFromFile(config.kubeconfig);
    if (config.context) {
      if (!kc.getContextObject(config.context)) {
        throw ApplicationFailure.nonRetryable(
          `cluster "${cluster}": context "${config.context}" is not in ${config.kubeconfig} (it has: ${kc.getContexts().map((c) => c.name).join(', ')})`,
          'UnknownCluster',
        );
      }
      kc.setCurrentContext(config.context);
    }
    this.kubeConfigs.set(cluster, { kc, mtimeMs: mtime(config.kubeconfig) });
    return kc;
  }

  core(cluster: string): CoreV1Api {
    return this.kubeConfig(cluster).makeApiClient(CoreV1Api);
  }

  /** ReplicaSets and Deployments (a ReplicaSet's pod hands over to its copy: AdoptByReplicaSet). */
  apps(cluster: string): AppsV1Api {
    return this.kubeConfig(cluster).makeApiClient(AppsV1Api);
  }

  /** HorizontalPodAutoscalers (a Deployment they scale cannot move a replica to another cluster). */
  autoscaling(cluster: string): AutoscalingV2Api {
    return this.kubeConfig(cluster).makeApiClient(AutoscalingV2Api);
  }

  /** For Liqo's objects (offloading.liqo.io), which the client has no typed API for. */
  customObjects(cluster: string): CustomObjectsApi {
    return this.kubeConfig(cluster).makeApiClient(CustomObjectsApi);
  }
}

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/** HTTP status of an API error from @kubernetes/client-node, if it is one. */
export function apiStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The API server's own message from an error body, for error texts. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  return err instanceof Error ? err.message : String(err);
}

/** What a read returned, or undefined when the object does not exist (404). */
export async function ignore404<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (err) {
    if (apiStatus(err) === 404) return undefined;
    throw err;
  }
}

/** An object key as one JSON Pointer segment (RFC 6901), for JSON patches of annotations and ConfigMap keys. */
export function jsonPointerKey(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
