// Liqo on the lab (deploy/lab/liqo.sh peers lab-a with lab-b): a namespace offloaded to the provider under its
// own name, so that a pod bound to the virtual node in it runs in the provider cluster. Used by the e2e test and
// the bench's liqo way.
import { apiStatus, type Clusters } from '../kubernetes/clusters.js';
import { LIQO_OFFLOADING_API, NAMESPACE_OFFLOADING_NAME } from '../kubernetes/liqo.js';

/** Creates `namespace` in `cluster` (if missing), offloads it (EnforceSameName) and waits until Liqo says Ready. */
export async function offloadNamespace(clusters: Clusters, cluster: string, namespace: string, timeoutMs = 60_000): Promise<void> {
  const ignoreExisting = (err: unknown) => {
    if (apiStatus(err) !== 409) throw err;
  };
  await clusters.core(cluster).createNamespace({ body: { metadata: { name: namespace } } }).catch(ignoreExisting);
  const api = clusters.customObjects(cluster);
  const where = { ...LIQO_OFFLOADING_API, plural: 'namespaceoffloadings', namespace };
  await api
    .createNamespacedCustomObject({
      ...where,
      body: {
        apiVersion: `${LIQO_OFFLOADING_API.group}/${LIQO_OFFLOADING_API.version}`,
        kind: 'NamespaceOffloading',
        // Liqo acts only on the object of this name.
        metadata: { name: NAMESPACE_OFFLOADING_NAME, namespace },
        spec: { namespaceMappingStrategy: 'EnforceSameName', podOffloadingStrategy: 'LocalAndRemote', clusterSelector: { nodeSelectorTerms: [] } },
      },
    })
    .catch(ignoreExisting);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status } = (await api.getNamespacedCustomObject({ ...where, name: NAMESPACE_OFFLOADING_NAME })) as { status?: { offloadingPhase?: string } };
    if (status?.offloadingPhase === 'Ready') return;
    if (Date.now() > deadline) {
      throw new Error(`namespace ${namespace} of ${cluster} is not offloaded within ${timeoutMs / 1000} s (status ${JSON.stringify(status ?? {})}): is Liqo peered (deploy/lab/liqo.sh --check)?`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
