// Cluster names (as used in migration inputs) resolved to API clients, from the worker configuration.
// Credentials stay in the kubeconfig files the configuration points at.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { ClusterConfig } from '../api/config.js';

export class Clusters {
  private readonly kubeConfigs = new Map<string, KubeConfig>();
  private readonly configs: Record<string, ClusterConfig>;

  constructor(configs: Record<string, ClusterConfig>) {
    this.configs = configs;
  }

  names(): string[] {
    return Object.keys(this.configs);
  }

  kubeConfig(cluster: string): KubeConfig {
    const cached = this.kubeConfigs.get(cluster);
    if (cached) return cached;
    const config = this.configs[cluster];
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
    this.kubeConfigs.set(cluster, kc);
    return kc;
  }

  core(cluster: string): CoreV1Api {
    return this.kubeConfig(cluster).makeApiClient(CoreV1Api);
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
