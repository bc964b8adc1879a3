// Activities that talk to the API server of a named cluster: plan, copy config, make and delete a
// migration's pull secret, create/watch/delete pods (and watch a ReplicaSet or StatefulSet adopt, or delete, one).
// Each is idempotent (deterministic names, create-or-get, 404 = already done) so retries and worker
// crashes are harmless.
import type { V1ConfigMap, V1Pod, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { RegistryCredentials } from '../api/config.js';
import type { HeldMigration, HeldPod } from '../api/held-source.js';
import type { PodIdentity } from '../api/migration.js';
import type { MigrationPlan, PlanMigrationInput } from '../api/migration-plan.js';
import { ANNOTATIONS, LABELS, migrationKey, POD_DELETION_COST, pullSecretName } from '../api/names.js';
import { apiMessage, apiStatus, ignore404, jsonPointerKey, type Clusters } from '../kubernetes/clusters.js';
import type { Refusal } from '../kubernetes/eligibility.js';
import { isLiqoReflection, virtualNodeClusterId } from '../kubernetes/liqo.js';
import { readOffloadedSource, readOffloadedTarget } from '../kubernetes/liqo-objects.js';
import { madeBy } from '../kubernetes/made-owner.js';
import { buildPullSecret } from '../kubernetes/pull-secret.js';
import { buildTargetPod, migrationObjectLabels } from '../kubernetes/target-pod.js';
import type { Autoscalers } from '../planning/autoscalers.js';
import type { DeploymentMoveFacts } from '../planning/deployment-move.js';
import { decideMigration, migrationStrategy, sourceRefusals, targetPodName } from '../planning/migration.js';
import { controllingDeployment, controllingReplicaSet, replicaSetCopyName, siblingMigrationRefusal, type ReplicaSetOwners } from '../planning/replicaset-handover.js';
import type { StatefulSetMoveFacts } from '../planning/statefulset-move.js';
import { controllingStatefulSet } from '../planning/statefulset-recreate.js';
import { heartbeatIfActive, sleep } from './context.js';

export interface KubernetesActivityDeps {
  clusters: Clusters;
  /** Poll interval while waiting for pods (ms); tests shorten it. */
  pollIntervalMs?: number;
  /** Namespaces podferry never moves pods out of or into (configuration: protectedNamespaces). */
  protectedNamespaces?: string[];
  /**
   * The registry's read-only pull identity (registry.pull) and the host the checkpoint images are named
   * under: what a migration's pull secret holds. Read from this worker's configuration, never from an input.
   */
  registryPull?: { host: string; credentials: RegistryCredentials };
}

export interface PodEventInput {
  pod: { cluster: string; namespace: string; name: string; uid?: string };
  migrationId: string;
  type: 'Normal' | 'Warning';
  /** CamelCase, stable: MigrationStarted, SourceFrozen, Migrated, Restored, MigrationRolledBack, MigrationFailed. */
  reason: string;
  message: string;
}

export interface MigrationLockInput {
  migrationId: string;
  cluster: string;
  namespace: string;
  name: string;
  /** The incarnation locked (unknown if planning never answered: then whichever incarnation holds this migration's lock). */
  uid?: string;
}

/** Where a migration's pull secret is (its name follows from the migration id: pullSecretName). */
export interface PullSecretInput {
  migrationId: string;
  cluster: string;
  namespace: string;
}

export interface CopiedObject {
  kind: 'ConfigMap' | 'Secret';
  name: string;
}

export interface WaitPodReadyInput {
  cluster: string;
  namespace: string;
  name: string;
  timeoutSeconds: number;
}

export interface DeletePodInput {
  cluster: string;
  namespace: string;
  name: string;
  /** Delete only this incarnation (a pod with the same name but another uid is left alone). */
  uid?: string;
  /**
   * Delete only a pod this migration created from this source (guards against deleting someone else's pod
   * of that name, or one an earlier migration that re-used the id made from another source pod).
   */
  onlyIfMigrationId?: string;
  onlyIfSourceUid?: string;
  gracePeriodSeconds?: number;
  /** Wait until the pod is gone (0: just request the deletion). */
  waitSeconds: number;
}

/** A pod by name, and the incarnation meant (uid). */
export interface PodIncarnation {
  name: string;
  uid: string;
}

/** The two pods of a ReplicaSet hand-over (AdoptByReplicaSet), in the source's cluster and namespace. */
export interface HandOverPods {
  cluster: string;
  namespace: string;
  source: PodIncarnation;
  /** The restored copy; only a pod this migration made from this source is touched. */
  copy: { name: string; migrationId: string; sourceUid: string };
}

/** Once the copy is out of the ReplicaSet's selection, this long without it being owned or the source deleted: the ReplicaSet has let go. */
const RELEASE_QUIET_MS = 2_000;

/** Waiting reasons after which a container will not become ready without someone changing something. */
const FATAL_WAITING_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerError',
  'CreateContainerConfigError',
  'RunContainerError',
  'CrashLoopBackOff',
]);

export function createKubernetesActivities(deps: KubernetesActivityDeps) {
  const { clusters } = deps;
  const pollIntervalMs = deps.pollIntervalMs ?? 250;

  async function readPod(cluster: string, namespace: string, name: string): Promise<V1Pod | undefined> {
    try {
      return await clusters.core(cluster).readNamespacedPod({ name, namespace });
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      throw err;
    }
  }

  async function planMigration(input: PlanMigrationInput): Promise<MigrationPlan> {
    const { source, target } = input;
    const targetCore = clusters.core(target.cluster);
    const pod = await readPod(source.cluster, source.namespace, source.pod);
    // Refused on the source pod alone: the target cluster need not be read.
    const atSource = sourceRefusals(input, pod);
    if (!pod || atSource.length > 0) throw refusedFailure(atSource);
    const sourceNodeName = pod.spec!.nodeName!; // bound, or sourceRefusals would have said PodNotScheduled
    const replicaSet = controllingReplicaSet(pod);
    const strategy = migrationStrategy(input, replicaSet !== undefined);
    const handsOver = strategy === 'AdoptByReplicaSet';
    // A ReplicaSet's pod leaving its cluster or namespace moves with its Deployment (or is refused), a StatefulSet's with its StatefulSet.
    const movesDeployment = strategy === 'CreateThenDelete' && replicaSet !== undefined;
    const statefulSetName = controllingStatefulSet(pod)?.name;
    const movesStatefulSet = strategy === 'CreateThenDelete' && statefulSetName !== undefined;
    const [targetNamespaceExists, targetNode, podAtTarget, sourceNode, targetClusterNodes, owners, statefulSet] = await Promise.all([
      ignore404(targetCore.readNamespace({ name: target.namespace })).then((namespace) => namespace !== undefined),
      target.node ? ignore404(targetCore.readNode({ name: target.node })) : undefined,
      readPod(target.cluster, target.namespace, handsOver ? replicaSetCopyName(replicaSet!.name, input.migrationId) : source.pod),
      // The node must exist in the source cluster's API too (the checkpoint call goes through its proxy).
      clusters.core(source.cluster).readNode({ name: sourceNodeName }),
      target.node ? [] : targetCore.listNode().then((list) => list.items),
      handsOver || movesDeployment ? readOwners(source.cluster, source.namespace, replicaSet!.name) : undefined,
      statefulSetName ? ignore404(clusters.apps(source.cluster).readNamespacedStatefulSet({ name: statefulSetName, namespace: source.namespace })) : undefined,
    ]);
    // A Liqo virtual node at either end: its provider runs the pod (read there too).
    const [offloadedTarget, offloadedSource, deploymentMoveFacts, statefulSetMoveFacts] = await Promise.all([
      virtualNodeClusterId(targetNode) !== undefined ? readOffloadedTarget(clusters, target.cluster, targetNode!, target.namespace, source.pod) : undefined,
      virtualNodeClusterId(sourceNode) !== undefined ? readOffloadedSource(clusters, source.cluster, sourceNode, source.namespace, source.pod) : undefined,
      movesDeployment && owners ? readDeploymentMoveFacts(input, owners) : undefined,
      movesStatefulSet && statefulSet ? readStatefulSetMoveFacts(input, statefulSet) : undefined,
    ]);
    const decision = decideMigration({
      offloadedTarget: unlessRefused(offloadedTarget),
      offloadedSource: unlessRefused(offloadedSource),
      request: input,
      sourcePod: pod,
      sourceNodeUnschedulable: Boolean(sourceNode.spec?.unschedulable),
      targetNamespaceExists,
      targetNode,
      podAtTarget,
      targetClusterNodes,
      protectedNamespaces: deps.protectedNamespaces ?? ['kube-system'],
      registryPullIdentity: deps.registryPull !== undefined,
      ...(owners ? { owners } : {}),
      ...(deploymentMoveFacts ? { deploymentMoveFacts } : {}),
      ...(statefulSet ? { statefulSet } : {}),
      ...(statefulSetMoveFacts ? { statefulSetMoveFacts } : {}),
    });
    if ('refused' in decision) throw refusedFailure(decision.refused);
    await lockSourcePod(pod, input);
    if (handsOver || movesDeployment || movesStatefulSet) {
      // After taking the lock: of two migrations of one owner that start at once, each sees the other's.
      const siblings = await clusters.core(source.cluster).listNamespacedPod({ namespace: source.namespace });
      const busy = siblingMigrationRefusal(siblings.items, pod, input.migrationId, `pod ${source.namespace}/${source.pod} in cluster ${source.cluster}`);
      if (busy) throw refusedFailure([busy]);
    }
    return decision.plan;
  }

  /** The ReplicaSet of that name and, when a Deployment controls it, that Deployment (undefined: not found). */
  async function readOwners(cluster: string, namespace: string, name: string): Promise<ReplicaSetOwners> {
    const apps = clusters.apps(cluster);
    const replicaSet = await ignore404(apps.readNamespacedReplicaSet({ name, namespace }));
    const deploymentName = replicaSet && controllingDeployment(replicaSet);
    const deployment = deploymentName ? await ignore404(apps.readNamespacedDeployment({ name: deploymentName, namespace })) : undefined;
    return { replicaSet, deployment };
  }

  /**
   * For a Deployment's pod leaving its cluster or namespace: the Deployment of its name in the target namespace,
   * that namespace's ReplicaSets, and the autoscalers on both sides. Undefined: no Deployment owns the pod's ReplicaSet.
   */
  async function readDeploymentMoveFacts(input: PlanMigrationInput, owners: ReplicaSetOwners): Promise<DeploymentMoveFacts | undefined> {
    const name = owners.replicaSet && controllingDeployment(owners.replicaSet);
    if (!name) return undefined;
    const { target } = input;
    const targetApps = clusters.apps(target.cluster);
    const [targetDeployment, targetReplicaSets, autoscalers] = await Promise.all([
      ignore404(targetApps.readNamespacedDeployment({ name, namespace: target.namespace })),
      targetApps.listNamespacedReplicaSet({ namespace: target.namespace }),
      readAutoscalers(input),
    ]);
    return { targetDeployment, targetReplicaSets: targetReplicaSets.items, autoscalers };
  }

  /** For a StatefulSet's pod leaving its cluster or namespace: the StatefulSet of its name and its headless Service in the target namespace, and the autoscalers on both sides. */
  async function readStatefulSetMoveFacts(input: PlanMigrationInput, statefulSet: V1StatefulSet): Promise<StatefulSetMoveFacts> {
    const { target } = input;
    const serviceName = statefulSet.spec?.serviceName;
    const [targetStatefulSet, targetService, autoscalers] = await Promise.all([
      ignore404(clusters.apps(target.cluster).readNamespacedStatefulSet({ name: statefulSet.metadata!.name!, namespace: target.namespace })),
      serviceName ? ignore404(clusters.core(target.cluster).readNamespacedService({ name: serviceName, namespace: target.namespace })) : undefined,
      readAutoscalers(input),
    ]);
    return { targetStatefulSet, targetService, autoscalers };
  }

  /** The HorizontalPodAutoscalers of the source namespace (source cluster) and of the target namespace (target cluster). */
  async function readAutoscalers(input: PlanMigrationInput): Promise<Autoscalers> {
    const { source, target } = input;
    const [sourceAutoscalers, targetAutoscalers] = await Promise.all([
      clusters.autoscaling(source.cluster).listNamespacedHorizontalPodAutoscaler({ namespace: source.namespace }),
      clusters.autoscaling(target.cluster).listNamespacedHorizontalPodAutoscaler({ namespace: target.namespace }),
    ]);
    return { source: sourceAutoscalers.items, target: targetAutoscalers.items };
  }

  /**
   * Copies the ConfigMaps and Secrets the pod references that the target namespace lacks. Copies carry a
   * label naming the migration, so `deleteCopiedConfig` removes exactly them, even after a partial run.
   */
  async function ensureTargetConfig(input: { plan: MigrationPlan }): Promise<{ created: CopiedObject[]; missing: CopiedObject[] }> {
    const { plan } = input;
    const key = migrationKey(plan.migrationId);
    const src = clusters.core(plan.source.cluster);
    const dst = clusters.core(plan.target.cluster);
    const ns = { source: plan.source.namespace, target: plan.target.namespace };
    const created: CopiedObject[] = [];
    const missing: CopiedObject[] = [];
    const labels = migrationObjectLabels(key);
    const annotations = { [ANNOTATIONS.migrationId]: plan.migrationId, [ANNOTATIONS.source]: `${plan.source.cluster}/${ns.source}` };

    for (const name of plan.config.configMaps) {
      const outcome = await copyIfMissing<V1ConfigMap>(
        () => dst.readNamespacedConfigMap({ name, namespace: ns.target }),
        () => src.readNamespacedConfigMap({ name, namespace: ns.source }),
        (from) =>
          dst.createNamespacedConfigMap({
            namespace: ns.target,
            body: {
              metadata: { name, labels: { ...from.metadata?.labels, ...labels }, annotations },
              data: from.data,
              binaryData: from.binaryData,
              immutable: from.immutable,
            },
          }),
        key,
      );
      if (outcome === 'created') created.push({ kind: 'ConfigMap', name });
      if (outcome === 'missing') missing.push({ kind: 'ConfigMap', name });
    }
    for (const name of plan.config.secrets) {
      const outcome = await copyIfMissing<V1Secret>(
        () => dst.readNamespacedSecret({ name, namespace: ns.target }),
        () => src.readNamespacedSecret({ name, namespace: ns.source }),
        (from) =>
          dst.createNamespacedSecret({
            namespace: ns.target,
            body: {
              metadata: { name, labels: { ...from.metadata?.labels, ...labels }, annotations },
              type: from.type,
              data: from.data,
              immutable: from.immutable,
            },
          }),
        key,
      );
      if (outcome === 'created') created.push({ kind: 'Secret', name });
      if (outcome === 'missing') missing.push({ kind: 'Secret', name });
    }
    return { created, missing };
  }

  async function copyIfMissing<T extends { metadata?: { labels?: Record<string, string> } }>(
    readTarget: () => Promise<T>,
    readSource: () => Promise<T>,
    create: (from: T) => Promise<T>,
    key: string,
  ): Promise<'exists' | 'created' | 'missing'> {
    try {
      const existing = await readTarget();
      // A copy made by an earlier attempt of this same migration counts as created by it.
      return madeByMigration(existing, key) ? 'created' : 'exists';
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
    }
    let from: T;
    try {
      from = await readSource();
    } catch (err) {
      if (apiStatus(err) === 404) return 'missing'; // optional reference, absent at the source too
      throw err;
    }
    try {
      await create(from);
      return 'created';
    } catch (err) {
      if (apiStatus(err) === 409) return 'created'; // raced with an earlier attempt: create-or-get
      throw err;
    }
  }

  /** Deletes the ConfigMaps/Secrets this migration copied into the target namespace. Idempotent. */
  async function deleteCopiedConfig(input: { migrationId: string; cluster: string; namespace: string }): Promise<{ deleted: CopiedObject[] }> {
    const core = clusters.core(input.cluster);
    const labelSelector = `${LABELS.migrationKey}=${migrationKey(input.migrationId)}`;
    const deleted: CopiedObject[] = [];
    const configMaps = await core.listNamespacedConfigMap({ namespace: input.namespace, labelSelector });
    for (const cm of configMaps.items) {
      await ignore404(core.deleteNamespacedConfigMap({ name: cm.metadata!.name!, namespace: input.namespace }));
      deleted.push({ kind: 'ConfigMap', name: cm.metadata!.name! });
    }
    const secrets = await core.listNamespacedSecret({ namespace: input.namespace, labelSelector });
    for (const secret of secrets.items) {
      await ignore404(core.deleteNamespacedSecret({ name: secret.metadata!.name!, namespace: input.namespace }));
      deleted.push({ kind: 'Secret', name: secret.metadata!.name! });
    }
    return { deleted };
  }

  /**
   * Makes this migration's pull secret in a namespace, or finds the one an earlier attempt made. The
   * credentials come from this worker's configuration: they never travel through the workflow's history.
   */
  async function ensurePullSecret(input: PullSecretInput): Promise<{ name: string }> {
    const name = pullSecretName(input.migrationId);
    const where = `Secret ${input.namespace}/${name} in cluster ${input.cluster}`;
    if (!deps.registryPull) {
      throw ApplicationFailure.nonRetryable(
        `${where}: this orchestrator worker has no registry pull identity (registry.pull in its configuration), but the migration's plan names a pull secret: configure every orchestrator worker alike`,
        'RegistryNotConfigured',
      );
    }
    const core = clusters.core(input.cluster);
    const body = buildPullSecret({ name, namespace: input.namespace, migrationId: input.migrationId, ...deps.registryPull });
    try {
      await core.createNamespacedSecret({ namespace: input.namespace, body });
    } catch (err) {
      if (apiStatus(err) !== 409) throw err;
      const existing = await core.readNamespacedSecret({ name, namespace: input.namespace });
      if (!madeByMigration(existing, migrationKey(input.migrationId))) {
        throw ApplicationFailure.nonRetryable(`${where} exists and was not made by migration ${input.migrationId}: delete it`, 'PullSecretExists');
      }
    }
    return { name };
  }

  /** Deletes this migration's pull secret (only if its label says this migration made it); a missing one counts as deleted. */
  async function deletePullSecret(input: PullSecretInput): Promise<{ deleted: boolean }> {
    const core = clusters.core(input.cluster);
    const name = pullSecretName(input.migrationId);
    const secret = await ignore404(core.readNamespacedSecret({ name, namespace: input.namespace }));
    if (!secret || !madeByMigration(secret, migrationKey(input.migrationId))) return { deleted: false };
    await ignore404(core.deleteNamespacedSecret({ name, namespace: input.namespace }));
    return { deleted: true };
  }

  /** Creates the target pod from the plan with the checkpoint images, or returns it if this migration already did. */
  async function createTargetPod(input: { plan: MigrationPlan; images: Record<string, string> }): Promise<PodIdentity> {
    const { plan } = input;
    const body = buildTargetPod({
      source: plan.sourcePod,
      sourceCluster: plan.source.cluster,
      targetNamespace: plan.target.namespace,
      targetNode: plan.target.node,
      images: input.images,
      migrationId: plan.migrationId,
      targetNodeTaints: plan.targetNodeTaints,
      pullSecret: plan.pullSecret,
      name: targetPodName(plan),
      // A copy an owner takes over gets its labels once Ready, when it is handed over (AdoptByReplicaSet, deploymentMove, statefulSetMove).
      stashLabels: plan.replicaSetHandOver !== undefined || plan.deploymentMove !== undefined || plan.statefulSetMove !== undefined,
    });
    const core = clusters.core(plan.target.cluster);
    const name = body.metadata!.name!;
    let pod: V1Pod;
    try {
      pod = await core.createNamespacedPod({ namespace: plan.target.namespace, body });
    } catch (err) {
      if (apiStatus(err) !== 409) {
        const status = apiStatus(err);
        throw ApplicationFailure.create({
          message: `creating pod ${plan.target.namespace}/${name} in cluster ${plan.target.cluster} failed: ${apiMessage(err)}`,
          type: 'TargetPodRejected',
          // 4xx means the API server refused this spec: retrying the same spec cannot help.
          nonRetryable: status !== undefined && status >= 400 && status < 500,
        });
      }
      const existing = await core.readNamespacedPod({ name, namespace: plan.target.namespace });
      if (!madeFrom(existing, plan.migrationId, plan.source.uid)) {
        throw ApplicationFailure.nonRetryable(
          `pod ${plan.target.namespace}/${name} already exists in cluster ${plan.target.cluster} and was not created by migration ${plan.migrationId} ` +
            `from source pod uid ${plan.source.uid}: delete it or migrate into another namespace`,
          'TargetPodExists',
        );
      }
      pod = existing;
    }
    return {
      cluster: plan.target.cluster,
      namespace: plan.target.namespace,
      name,
      uid: pod.metadata?.uid ?? '',
      node: pod.spec?.nodeName,
    };
  }

  /** Polls until every container is ready; fails fast when a container cannot start. */
  async function waitPodReady(input: WaitPodReadyInput): Promise<{ readyAt: number; uid: string; node?: string }> {
    const ref = `pod ${input.namespace}/${input.name} in cluster ${input.cluster}`;
    const deadline = Date.now() + input.timeoutSeconds * 1000;
    let last = 'not created yet';
    while (Date.now() < deadline) {
      const pod = await readPod(input.cluster, input.namespace, input.name);
      if (pod) {
        const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
        if (ready) return { readyAt: Date.now(), uid: pod.metadata?.uid ?? '', node: pod.spec?.nodeName };
        if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
          throw ApplicationFailure.nonRetryable(`${ref} ended (${pod.status.phase}: ${pod.status.reason ?? ''} ${pod.status.message ?? ''}) instead of becoming Ready`, 'TargetPodFailed');
        }
        for (const status of pod.status?.containerStatuses ?? []) {
          const waiting = status.state?.waiting;
          if (waiting?.reason && FATAL_WAITING_REASONS.has(waiting.reason)) {
            throw ApplicationFailure.nonRetryable(
              `${ref}: container ${status.name} is ${waiting.reason}: ${waiting.message ?? 'no message'} ` +
                '(check that the node can pull from the registry and that its runtime restores checkpoint images)',
              'TargetPodFailed',
            );
          }
          const terminated = status.state?.terminated ?? (status.restartCount > 0 ? status.lastState?.terminated : undefined);
          if (terminated) {
            throw ApplicationFailure.nonRetryable(
              `${ref}: container ${status.name} terminated (${terminated.reason ?? 'no reason'}, exit code ${terminated.exitCode}): ${terminated.message ?? ''}`.trim(),
              'TargetPodFailed',
            );
          }
        }
        last = describePodState(pod);
      }
      heartbeatIfActive({ last });
      await sleep(pollIntervalMs);
    }
    throw ApplicationFailure.nonRetryable(`${ref} did not become Ready within ${input.timeoutSeconds}s (last: ${last})`, 'TargetPodNotReady');
  }

  /** Deletes a pod; a missing pod counts as deleted. Optionally waits until it is gone. */
  async function deletePod(input: DeletePodInput): Promise<{ deleted: boolean; skipped?: string }> {
    const ref = `pod ${input.namespace}/${input.name} in cluster ${input.cluster}`;
    const core = clusters.core(input.cluster);
    const pod = await readPod(input.cluster, input.namespace, input.name);
    if (!pod) return { deleted: false };
    if (input.uid && pod.metadata?.uid !== input.uid) return { deleted: false, skipped: `${ref} is another incarnation (uid ${pod.metadata?.uid})` };
    if (input.onlyIfMigrationId && !madeFrom(pod, input.onlyIfMigrationId, input.onlyIfSourceUid)) {
      return { deleted: false, skipped: `${ref} was not created by migration ${input.onlyIfMigrationId}${input.onlyIfSourceUid ? ` from source uid ${input.onlyIfSourceUid}` : ''}; left alone` };
    }
    // A pod already terminating is deleted again only to shorten its grace period (to 0: removed at once).
    const shortens = input.gracePeriodSeconds !== undefined && input.gracePeriodSeconds < (pod.metadata?.deletionGracePeriodSeconds ?? Infinity);
    if (!pod.metadata?.deletionTimestamp || shortens) {
      await ignore404(
        core.deleteNamespacedPod({
          name: input.name,
          namespace: input.namespace,
          // In the body: the API server ignores the query parameters of a DELETE that has one.
          body: { preconditions: { uid: pod.metadata?.uid }, ...(input.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: input.gracePeriodSeconds } : {}) },
        }),
      );
    }
    const deadline = Date.now() + input.waitSeconds * 1000;
    // Poll soon, then less often: a pod removed at once (grace 0) is gone within milliseconds, and this wait
    // can be inside the downtime (DeleteThenCreate).
    for (let interval = 20; Date.now() < deadline; interval = Math.min(interval * 2, pollIntervalMs)) {
      const current = await readPod(input.cluster, input.namespace, input.name);
      if (!current || current.metadata?.uid !== pod.metadata?.uid) return { deleted: true };
      heartbeatIfActive();
      await sleep(interval);
    }
    if (input.waitSeconds > 0) throw ApplicationFailure.retryable(`${ref} is still terminating after ${input.waitSeconds}s`, 'PodStillTerminating');
    return { deleted: true };
  }

  /**
   * Takes the source pod's migration lock: an annotation naming this migration, written with the pod's
   * resourceVersion as precondition, so of two migrations that read the pod at once only one writes it.
   * Taken again by the same migration (a retry) it is a no-op.
   */
  async function lockSourcePod(pod: V1Pod, input: PlanMigrationInput): Promise<void> {
    const holder = pod.metadata?.annotations?.[ANNOTATIONS.lock];
    const ref = `pod ${input.source.namespace}/${input.source.pod} in cluster ${input.source.cluster}`;
    if (holder === input.migrationId) return;
    if (holder) {
      throw ApplicationFailure.nonRetryable(
        `${ref} is being migrated by ${holder}: wait for it (podferry status ${holder}); if that migration has ended and left the lock ` +
          `(it keeps it when the pod had to stay frozen), check the pod, then remove the annotation: kubectl annotate pod -n ${input.source.namespace} ${input.source.pod} ${ANNOTATIONS.lock}-`,
        'PodLocked',
        { holder },
      );
    }
    const body = [
      // A resourceVersion in the patch makes it conditional: 409 if anyone changed the pod since we read it.
      { op: 'replace', path: '/metadata/resourceVersion', value: pod.metadata?.resourceVersion },
      pod.metadata?.annotations
        ? { op: 'add', path: `/metadata/annotations/${jsonPointerKey(ANNOTATIONS.lock)}`, value: input.migrationId }
        : { op: 'add', path: '/metadata/annotations', value: { [ANNOTATIONS.lock]: input.migrationId } },
    ];
    try {
      await clusters.core(input.source.cluster).patchNamespacedPod({ namespace: input.source.namespace, name: input.source.pod, body });
    } catch (err) {
      // Someone changed the pod in between (maybe another migration took the lock): the retry reads it again.
      if (apiStatus(err) === 409) throw ApplicationFailure.retryable(`${ref} changed while taking its migration lock`, 'LockConflict');
      throw err;
    }
  }

  /** Releases the source pod's lock if this migration holds it (on this incarnation); otherwise leaves it. */
  async function releaseSourceLock(input: MigrationLockInput): Promise<{ released: boolean }> {
    const pod = await readPod(input.cluster, input.namespace, input.name);
    if (!pod || (input.uid && pod.metadata?.uid !== input.uid) || pod.metadata?.annotations?.[ANNOTATIONS.lock] !== input.migrationId) return { released: false };
    const path = `/metadata/annotations/${jsonPointerKey(ANNOTATIONS.lock)}`;
    try {
      await clusters.core(input.cluster).patchNamespacedPod({
        namespace: input.namespace,
        name: input.name,
        body: [
          { op: 'test', path: '/metadata/uid', value: pod.metadata.uid },
          { op: 'test', path, value: input.migrationId },
          { op: 'remove', path },
        ],
      });
    } catch (err) {
      const status = apiStatus(err);
      if (status === 404 || status === 422) return { released: false }; // gone, or no longer ours
      throw err;
    }
    return { released: true };
  }

  /**
   * Records a Kubernetes Event on a pod, so `kubectl describe pod` and `kubectl get events` show the
   * migration (as KubeVirt does for its migrations): started, frozen, migrated or rolled back.
   */
  async function recordPodEvent(input: PodEventInput): Promise<void> {
    const now = new Date();
    await clusters.core(input.pod.cluster).createNamespacedEvent({
      namespace: input.pod.namespace,
      body: {
        metadata: { generateName: `${input.pod.name}.podferry-`, namespace: input.pod.namespace },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: input.pod.namespace, name: input.pod.name, ...(input.pod.uid ? { uid: input.pod.uid } : {}) },
        type: input.type,
        reason: input.reason,
        message: `${input.message} (migration ${input.migrationId})`.slice(0, 1024),
        source: { component: 'podferry' },
        reportingComponent: 'podferry.io/migration',
        reportingInstance: input.migrationId.slice(0, 128),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }

  /**
   * What a migration left behind in every configured cluster: the pod that holds its lock (the source it kept
   * frozen) and the pods it created (its target). Annotations cannot be selected on, so every pod is listed.
   */
  async function findHeldMigration(input: { migrationId: string }): Promise<HeldMigration> {
    const found: HeldMigration = { targets: [] };
    /** Pods Liqo made in a provider from the held source (they carry its lock annotation too). */
    const reflectedSources: HeldPod[] = [];
    for (const cluster of clusters.names()) {
      const pods = (await clusters.core(cluster).listPodForAllNamespaces()).items;
      for (const pod of pods) {
        const annotations = pod.metadata?.annotations ?? {};
        const held: HeldPod = {
          cluster,
          namespace: pod.metadata?.namespace ?? '',
          name: pod.metadata?.name ?? '',
          uid: pod.metadata?.uid ?? '',
          ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
          containerIds: (pod.status?.containerStatuses ?? []).map((s) => s.containerID ?? '').filter(Boolean),
          terminating: Boolean(pod.metadata?.deletionTimestamp),
        };
        if (annotations[ANNOTATIONS.lock] === input.migrationId) {
          if (isLiqoReflection(pod)) reflectedSources.push(held);
          else found.source = held;
        } else if (annotations[ANNOTATIONS.migrationId] === input.migrationId) found.targets.push(held);
      }
    }
    // A source on a Liqo virtual node runs in the provider as the pod of its name there.
    const runsAt = found.source && reflectedSources.find((p) => p.name === found.source!.name);
    if (found.source && runsAt) {
      found.source.runsAt = { cluster: runsAt.cluster, namespace: runsAt.namespace, uid: runsAt.uid, node: runsAt.node, containerIds: runsAt.containerIds };
    }
    return found;
  }

  /**
   * Sets a pod's pod-deletion-cost annotation (ReplicaSets delete their cheapest pods first), or removes it
   * (cost undefined). Only on that incarnation: a pod that is gone or another is left alone.
   */
  async function setPodDeletionCost(input: { cluster: string; namespace: string; name: string; uid: string; cost?: string }): Promise<{ changed: boolean }> {
    const pod = await readPod(input.cluster, input.namespace, input.name);
    if (!pod || pod.metadata?.uid !== input.uid || pod.metadata?.annotations?.[POD_DELETION_COST] === input.cost) return { changed: false };
    const path = `/metadata/annotations/${jsonPointerKey(POD_DELETION_COST)}`;
    const change =
      input.cost === undefined
        ? { op: 'remove', path }
        : pod.metadata?.annotations
          ? { op: 'add', path, value: input.cost }
          : { op: 'add', path: '/metadata/annotations', value: { [POD_DELETION_COST]: input.cost } };
    return patchIncarnation(input, [change]);
  }

  /**
   * The hand-over: puts the labels back on the restored copy (and drops their stash) in one patch, so its
   * ReplicaSet adopts it and, having one pod too many, deletes its cheapest: the frozen source.
   */
  async function handOverToReplicaSet(input: Omit<HandOverPods, 'source'> & { labels: Record<string, string> }): Promise<{ handedOver: boolean }> {
    const copy = await readPod(input.cluster, input.namespace, input.copy.name);
    if (!copy || copy.metadata?.deletionTimestamp || !madeFrom(copy, input.copy.migrationId, input.copy.sourceUid)) return { handedOver: false };
    const stash = `/metadata/annotations/${jsonPointerKey(ANNOTATIONS.stashedLabels)}`;
    const body = [{ op: 'add', path: '/metadata/labels', value: input.labels }, ...(copy.metadata?.annotations?.[ANNOTATIONS.stashedLabels] !== undefined ? [{ op: 'remove', path: stash }] : [])];
    const { changed } = await patchIncarnation({ ...input, name: input.copy.name, uid: copy.metadata!.uid! }, body);
    return { handedOver: changed };
  }

  /**
   * After the hand-over: which pod the ReplicaSet deleted (its deletion requested, or gone): the source (the
   * move commits) or the copy (it turned NotReady at that instant: the move rolls back).
   */
  async function awaitReplicaSetChoice(input: HandOverPods & { copyUid: string; timeoutSeconds: number }): Promise<{ deleted: 'source' | 'copy' }> {
    const deadline = Date.now() + input.timeoutSeconds * 1000;
    for (let interval = 20; Date.now() < deadline; interval = Math.min(interval * 2, pollIntervalMs)) {
      if ((await podLifecycle({ ...input, ...input.source })) !== 'present') return { deleted: 'source' };
      if ((await podLifecycle({ ...input, name: input.copy.name, uid: input.copyUid })) !== 'present') return { deleted: 'copy' };
      heartbeatIfActive();
      await sleep(interval);
    }
    throw ApplicationFailure.nonRetryable(
      `the ReplicaSet deleted neither pod ${input.namespace}/${input.source.name} nor its copy ${input.copy.name} in cluster ${input.cluster} within ${input.timeoutSeconds}s ` +
        'after the copy got its labels back: is the controller manager running? The move rolls back',
      'ReplicaSetDidNotChoose',
    );
  }

  /**
   * Waits until its owner (a ReplicaSet or StatefulSet) owns the pod (its controller ownerReference has that uid):
   * it adopted the restored copy, whose labels came back. Fails when the pod is gone or another owner took it.
   */
  async function awaitPodOwner(input: { cluster: string; namespace: string; name: string; uid: string; ownerUid: string; timeoutSeconds: number }): Promise<{ ownedAt: number }> {
    const ref = `pod ${input.namespace}/${input.name} in cluster ${input.cluster}`;
    const deadline = Date.now() + input.timeoutSeconds * 1000;
    for (let interval = 20; Date.now() < deadline; interval = Math.min(interval * 2, pollIntervalMs)) {
      const pod = await readPod(input.cluster, input.namespace, input.name);
      if (!pod || pod.metadata?.uid !== input.uid || pod.metadata?.deletionTimestamp) {
        throw ApplicationFailure.nonRetryable(`${ref} (uid ${input.uid}) was deleted before its owner (uid ${input.ownerUid}) adopted it`, 'CopyDeleted');
      }
      const controller = pod.metadata?.ownerReferences?.find((o) => o.controller);
      if (controller?.uid === input.ownerUid) return { ownedAt: Date.now() };
      if (controller) throw ApplicationFailure.nonRetryable(`${ref} was adopted by ${controller.kind} ${controller.name} (uid ${controller.uid}), not the owner of uid ${input.ownerUid}`, 'CopyAdoptedByAnother');
      heartbeatIfActive();
      await sleep(interval);
    }
    throw ApplicationFailure.nonRetryable(
      `no owner adopted ${ref} within ${input.timeoutSeconds}s after it got its labels back (expected the one of uid ${input.ownerUid}): is the controller manager running?`,
      'CopyNotAdopted',
    );
  }

  /** Waits until one incarnation of a pod is being deleted or gone; deleted: false when it still is there after timeoutSeconds. */
  async function awaitPodDeletion(input: { cluster: string; namespace: string; name: string; uid: string; timeoutSeconds: number }): Promise<{ deleted: boolean }> {
    const deadline = Date.now() + input.timeoutSeconds * 1000;
    for (let interval = 20; Date.now() < deadline; interval = Math.min(interval * 2, pollIntervalMs)) {
      if ((await podLifecycle(input)) !== 'present') return { deleted: true };
      heartbeatIfActive();
      await sleep(interval);
    }
    return { deleted: false };
  }

  /**
   * The undo of the hand-over: takes the labels off the copy again (stashed), then waits until its ReplicaSet
   * has let go of it (no ownerReference, and the source not deleted, for RELEASE_QUIET_MS): any deletion the
   * ReplicaSet decided while the copy was labelled has been requested by then. sourceDeleted: it deleted the
   * source after all, so the copy holds the workload now and must not be stopped.
   */
  async function takeBackFromReplicaSet(input: HandOverPods & { labels: Record<string, string>; timeoutSeconds: number }): Promise<{ sourceDeleted: boolean }> {
    const sourceDeleted = async () => (await podLifecycle({ ...input, ...input.source })) !== 'present';
    const copy = await readPod(input.cluster, input.namespace, input.copy.name);
    if (!copy || copy.metadata?.deletionTimestamp || !madeFrom(copy, input.copy.migrationId, input.copy.sourceUid)) return { sourceDeleted: await sourceDeleted() };
    const copyRef = { ...input, name: input.copy.name, uid: copy.metadata!.uid! };
    const stash = ANNOTATIONS.stashedLabels;
    await patchIncarnation(copyRef, [
      { op: 'add', path: '/metadata/labels', value: {} },
      copy.metadata?.annotations
        ? { op: 'add', path: `/metadata/annotations/${jsonPointerKey(stash)}`, value: JSON.stringify(input.labels) }
        : { op: 'add', path: '/metadata/annotations', value: { [stash]: JSON.stringify(input.labels) } },
    ]);
    const deadline = Date.now() + input.timeoutSeconds * 1000;
    let quietSince: number | undefined;
    while (Date.now() < deadline) {
      if (await sourceDeleted()) return { sourceDeleted: true };
      const current = await readPod(input.cluster, input.namespace, input.copy.name);
      const owned = current?.metadata?.uid === copyRef.uid && (current.metadata?.ownerReferences ?? []).some((o) => o.controller);
      quietSince = owned ? undefined : (quietSince ?? Date.now());
      if (quietSince !== undefined && Date.now() - quietSince >= RELEASE_QUIET_MS) return { sourceDeleted: false };
      heartbeatIfActive();
      await sleep(Math.min(pollIntervalMs, 100));
    }
    throw ApplicationFailure.retryable(`the ReplicaSet still owns pod ${input.namespace}/${input.copy.name} in cluster ${input.cluster} ${input.timeoutSeconds}s after its labels were taken off`, 'CopyStillOwned');
  }

  /** A JSON patch of one incarnation (a test of its uid first); gone or another incarnation: nothing changed. */
  async function patchIncarnation(pod: { cluster: string; namespace: string; name: string; uid: string }, changes: object[]): Promise<{ changed: boolean }> {
    try {
      await clusters.core(pod.cluster).patchNamespacedPod({
        namespace: pod.namespace,
        name: pod.name,
        body: [{ op: 'test', path: '/metadata/uid', value: pod.uid }, ...changes],
      });
      return { changed: true };
    } catch (err) {
      const status = apiStatus(err);
      if (status === 404 || status === 422) return { changed: false };
      throw err;
    }
  }

  /** Where one incarnation (uid) of a pod is in its life: still there, being deleted, or gone. */
  async function podLifecycle(input: { cluster: string; namespace: string; name: string; uid: string }): Promise<'present' | 'terminating' | 'gone'> {
    const pod = await readPod(input.cluster, input.namespace, input.name);
    if (!pod || pod.metadata?.uid !== input.uid) return 'gone';
    return pod.metadata?.deletionTimestamp ? 'terminating' : 'present';
  }

  return {
    planMigration,
    ensureTargetConfig,
    deleteCopiedConfig,
    ensurePullSecret,
    deletePullSecret,
    createTargetPod,
    waitPodReady,
    deletePod,
    podLifecycle,
    setPodDeletionCost,
    handOverToReplicaSet,
    awaitReplicaSetChoice,
    awaitPodOwner,
    awaitPodDeletion,
    takeBackFromReplicaSet,
    releaseSourceLock,
    recordPodEvent,
    findHeldMigration,
  };
}

export type KubernetesActivities = ReturnType<typeof createKubernetesActivities>;

/** A planning refusal as the activity's failure: not retried, typed by the first refusal, all of them as details. */
function refusedFailure(refusals: Refusal[]): ApplicationFailure {
  return ApplicationFailure.nonRetryable(refusals.map((r) => r.message).join('; '), refusals[0]!.type, refusals);
}

/** Whether a pod was created by this migration from this source pod (its annotations say so). */
function madeFrom(pod: V1Pod, migrationId: string, sourceUid?: string): boolean {
  return madeBy(pod, migrationId) && (!sourceUid || pod.metadata?.annotations?.[ANNOTATIONS.sourceUid] === sourceUid);
}

/** Whether a ConfigMap or Secret was made by the migration of this key (its label says so). */
function madeByMigration(object: { metadata?: { labels?: Record<string, string> } }, key: string): boolean {
  return object.metadata?.labels?.[LABELS.migrationKey] === key;
}

/** What was read, or the refusal it came with thrown. */
function unlessRefused<T extends object>(read: T | { refused: Refusal } | undefined): T | undefined {
  if (read && 'refused' in read) throw refusedFailure([read.refused]);
  return read;
}

function describePodState(pod: V1Pod): string {
  const containers = (pod.status?.containerStatuses ?? [])
    .map((s) => `${s.name}=${s.ready ? 'ready' : (s.state?.waiting?.reason ?? (s.state?.running ? 'running' : 'pending'))}`)
    .join(',');
  return `phase ${pod.status?.phase ?? 'Pending'}${containers ? ` containers ${containers}` : ''}`;
}
