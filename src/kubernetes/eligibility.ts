// What can migrate and what cannot, decided from the source pod alone. Pure: unit-tested without a cluster.
// Every refusal says why and what to do instead, because the person reading it is about to retry.
import type { V1Pod, V1Volume } from '@kubernetes/client-node';

export interface Refusal {
  /** ApplicationFailure type, stable for scripts: e.g. PodNotRunning, VolumeCannotMove. */
  type: string;
  message: string;
}

/** Volume kinds whose definition can be recreated at the target (their content is not carried). */
const MOVABLE_VOLUME_KINDS = new Set(['emptyDir', 'configMap', 'secret', 'projected', 'downwardAPI']);

/**
 * Controllers whose pods move: see planning/replicaset-handover.ts and statefulset-recreate.ts (to another node of
 * their cluster) and planning/deployment-move.ts (a Deployment's pod, to another cluster or namespace).
 */
const MOVABLE_CONTROLLER_KINDS = new Set(['ReplicaSet', 'StatefulSet']);

/** Why the pods of other controllers cannot move (measured on the lab, issue 16). */
const CONTROLLER_WHY: Record<string, string> = {
  DaemonSet: 'which runs one pod per node: it deletes a restored pod on another node and recreates the source on its own',
  Job: 'which counts a pod deleted by podferry as failed and cannot move its completion counters to a restored pod',
};

export function volumeKind(volume: V1Volume): string {
  const kinds = Object.keys(volume).filter((key) => key !== 'name' && (volume as unknown as Record<string, unknown>)[key] != null);
  return kinds[0] ?? 'emptyDir'; // a volume with no source is an emptyDir
}

export function refusalsFor(pod: V1Pod): Refusal[] {
  const ref = `pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  const refusals: Refusal[] = [];
  const phase = pod.status?.phase ?? 'Unknown';
  if (pod.metadata?.deletionTimestamp) {
    refusals.push({ type: 'PodTerminating', message: `${ref} is being deleted; there is nothing left to migrate` });
  }
  if (phase !== 'Running') {
    refusals.push({
      type: 'PodNotRunning',
      message: `${ref} is ${phase}, not Running: only a running pod has state to migrate; wait until it runs, or create it at the target directly`,
    });
  }
  for (const status of pod.status?.containerStatuses ?? []) {
    if (phase === 'Running' && !status.state?.running) {
      const reason = status.state?.waiting?.reason ?? status.state?.terminated?.reason ?? 'not running';
      refusals.push({
        type: 'ContainerNotRunning',
        message: `${ref}: container ${status.name} is ${reason}; every container must be running to be checkpointed: fix it, then retry`,
      });
    }
  }
  const spec = pod.spec;
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (spec?.[field]) {
      refusals.push({
        type: 'HostNamespaceNotSupported',
        message: `${ref} uses ${field}: true; its processes share the node's ${field.slice(4)} namespace, which cannot be checkpointed or moved to another node: run it without ${field}`,
      });
    }
  }
  for (const volume of spec?.volumes ?? []) {
    const kind = volumeKind(volume);
    if (!MOVABLE_VOLUME_KINDS.has(kind)) {
      const hint =
        kind === 'persistentVolumeClaim'
          ? 'persistent volumes are not migrated yet: copy the data and use a pod without the claim'
          : kind === 'hostPath'
            ? 'a hostPath ties the pod to files of its node'
            : `only ${[...MOVABLE_VOLUME_KINDS].join(', ')} volumes can be recreated at the target`;
      refusals.push({ type: 'VolumeCannotMove', message: `${ref}: volume ${volume.name} is a ${kind} volume; ${hint}` });
    }
  }
  const controller = pod.metadata?.ownerReferences?.find((owner) => owner.controller);
  if (controller && !MOVABLE_CONTROLLER_KINDS.has(controller.kind)) {
    refusals.push({
      type: 'ControllerOwnedPod',
      message:
        `${ref} is controlled by ${controller.kind} ${controller.name}, ${CONTROLLER_WHY[controller.kind] ?? 'a controller podferry does not know how to hand a restored pod to'}. ` +
        "Of controller-owned pods only those of a ReplicaSet (a Deployment's also to another cluster or namespace) or a StatefulSet (also to another cluster or namespace) move: " +
        'migrate a standalone pod (no controller ownerReference) or one of those',
    });
  }
  if (pod.metadata?.annotations?.['kubernetes.io/config.mirror']) {
    refusals.push({
      type: 'StaticPod',
      message: `${ref} is the mirror of a static pod managed by the kubelet from a manifest file; move the manifest instead`,
    });
  }
  for (const init of spec?.initContainers ?? []) {
    if (init.restartPolicy === 'Always') {
      refusals.push({
        type: 'SidecarNotSupported',
        message: `${ref}: init container ${init.name} is a sidecar (restartPolicy: Always); sidecar containers are not checkpointed yet: make it a regular container`,
      });
    }
  }
  return refusals;
}

/**
 * Things that migrate, but that the user should know about. maxFrozenSeconds: how long the migration may
 * keep the source frozen (a liveness probe that gives up sooner restarts the frozen container).
 */
export function warningsFor(pod: V1Pod, maxFrozenSeconds = Infinity): string[] {
  const warnings: string[] = [];
  for (const container of pod.spec?.containers ?? []) {
    const probe = container.livenessProbe;
    if (probe) {
      const tolerance = (probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3);
      warnings.push(
        `container ${container.name} has a liveness probe: while the source is frozen the probe fails; the kubelet restarts it after about ${tolerance}s, ` +
          'so the migration must reach the commit point (target Ready) faster, or a rollback resumes a restarted container' +
          (tolerance < maxFrozenSeconds
            ? ` (maxFrozenSeconds is ${maxFrozenSeconds}: set it below ${tolerance} to roll back before the probe gives up)`
            : ''),
      );
    }
  }
  if ((pod.spec?.volumes ?? []).some((volume) => volumeKind(volume) === 'emptyDir')) {
    warnings.push('emptyDir volumes are recreated empty at the target: their files are not carried by the checkpoint');
  }
  if ((pod.spec?.initContainers ?? []).length > 0) {
    warnings.push('init containers run again at the target before the restored containers start');
  }
  if ((pod.metadata?.ownerReferences ?? []).some((owner) => !owner.controller)) {
    warnings.push('non-controller ownerReferences are dropped: their owners do not exist in the target cluster');
  }
  return warnings;
}
