// Loading a placement policy document for `podferry schedule create --policy`: a YAML/JSON file, or a
// reference to a ConfigMap (`configmap:<cluster>/<namespace>/<name>[#key]`) that every run reads again.
// Either way it is validated before the schedule exists; a mistake names the field and the reason.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describeIssues } from '../api/migration.js';
import { PlacementPolicy, PolicySource } from '../api/placement-policy.js';

export class PolicyError extends Error {
  override name = 'PolicyError';
}

/** Validates a parsed policy document; throws PolicyError naming each bad field. */
export function validatePlacementPolicy(document: unknown, where: string): PlacementPolicy {
  const parsed = PlacementPolicy.safeParse(document);
  if (!parsed.success) throw new PolicyError(`placement policy ${where}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

export function parsePolicyText(text: string, where: string): unknown {
  try {
    return parse(text) as unknown;
  } catch (err) {
    throw new PolicyError(`placement policy ${where}: not YAML/JSON: ${(err as Error).message}`);
  }
}

const CONFIGMAP_REF = /^configmap:([^/#]+)\/([^/#]+)\/([^/#]+)(?:#(.+))?$/;

/**
 * `--policy` as given on the command line: a ConfigMap reference, or a file whose (validated) content is
 * written into the schedule. readConfigMap lets the caller check a ConfigMap's policy at create time.
 */
export async function policySourceFromArgument(
  argument: string,
  readConfigMap?: (ref: { cluster: string; namespace: string; name: string; key: string }) => Promise<string | undefined>,
): Promise<{ source: PolicySource; policy: PlacementPolicy; description: string }> {
  const match = CONFIGMAP_REF.exec(argument);
  if (match) {
    const reference = { configMap: { cluster: match[1], namespace: match[2], name: match[3], ...(match[4] ? { key: match[4] } : {}) } };
    const parsed = PolicySource.safeParse(reference);
    if (!parsed.success) throw new PolicyError(`--policy ${argument}: ${describeIssues(parsed.error, reference)}`);
    const ref = (parsed.data as { configMap: { cluster: string; namespace: string; name: string; key: string } }).configMap;
    const description = `configmap ${ref.cluster}/${ref.namespace}/${ref.name}#${ref.key}`;
    if (!readConfigMap) throw new PolicyError(`--policy ${argument}: cannot read ConfigMaps here`);
    const text = await readConfigMap(ref);
    if (text === undefined) throw new PolicyError(`${description}: no such ConfigMap or key`);
    return { source: parsed.data, policy: validatePlacementPolicy(parsePolicyText(text, description), description), description };
  }
  if (argument.startsWith('configmap:')) {
    throw new PolicyError(`--policy ${argument}: expected configmap:<cluster>/<namespace>/<name>[#key]`);
  }
  let text: string;
  try {
    text = readFileSync(argument, 'utf8');
  } catch (err) {
    throw new PolicyError(`--policy ${argument}: cannot read the file (${(err as Error).message})`);
  }
  const policy = validatePlacementPolicy(parsePolicyText(text, argument), argument);
  return { source: { inline: policy }, policy, description: `file ${argument}` };
}
