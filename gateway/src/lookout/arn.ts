/**
 * ARNs in Lookout's shape. Vigil is one "region" of one "account": both are fixed and documented
 * (`us-east-1`, `000000000000` unless configured), so an ARN a customer stored keeps naming the same thing.
 */
export interface ArnScheme {
  readonly region: string;
  readonly account: string;
}

export const DEFAULT_ARN_SCHEME: ArnScheme = { region: 'us-east-1', account: '000000000000' };

export type LookoutResource =
  | { readonly kind: 'project'; readonly project: string }
  | { readonly kind: 'model'; readonly project: string; readonly version: string };

export function projectArn(scheme: ArnScheme, project: string): string {
  return `arn:aws:lookoutvision:${scheme.region}:${scheme.account}:project/${project}`;
}

export function modelArn(scheme: ArnScheme, project: string, version: string | number): string {
  return `arn:aws:lookoutvision:${scheme.region}:${scheme.account}:model/${project}/${version}`;
}

const ARN_PATTERN = /^arn:aws:lookoutvision:([a-z0-9-]*):(\d{12}):(project|model)\/([A-Za-z0-9_-]{1,255})(?:\/(\d+))?$/;

/** The resource an ARN names, or null when it is not one of this deployment's. */
export function parseArn(scheme: ArnScheme, arn: string): LookoutResource | null {
  const m = ARN_PATTERN.exec(arn);
  if (!m || m[1] !== scheme.region || m[2] !== scheme.account) return null;
  const project = m[4] ?? '';
  if (m[3] === 'project') return m[5] === undefined ? { kind: 'project', project } : null;
  return m[5] === undefined ? null : { kind: 'model', project, version: m[5] };
}

/** The canonical ARN of a resource (tags are keyed by it). */
export function arnOf(scheme: ArnScheme, resource: LookoutResource): string {
  return resource.kind === 'project'
    ? projectArn(scheme, resource.project)
    : modelArn(scheme, resource.project, resource.version);
}
