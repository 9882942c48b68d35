import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  CaptureMetadataSchema as CaptureMetadataRules,
  errors,
  isRole,
  type CaptureMetadata,
  type Principal,
} from '@vigil/contracts';
import type { Actor, ActorSchema } from './generated/vigil/common/v1/actor_pb';
import type {
  CaptureMetadata as CaptureMetadataMessage,
  CaptureMetadataSchema as CaptureMetadataMessageSchema,
} from './generated/vigil/common/v1/metadata_pb';

// Conversions between the messages every contract shares and the domain types of @vigil/contracts. Decoding
// checks what protobuf cannot say: required messages, roles, the bounds of capture metadata.

/** Who asked for a piece of work, as services use it. */
export interface JobActor {
  readonly principal: Principal;
  readonly requestId?: string;
}

export function actorToProto(actor: JobActor): MessageInitShape<typeof ActorSchema> {
  const { id, name, role } = actor.principal;
  return { principal: { id, name, role }, ...(actor.requestId !== undefined ? { requestId: actor.requestId } : {}) };
}

/** `what` names the message in errors, e.g. "vigil.jobs.v1.ImportImagesJob". */
export function actorFromProto(actor: Actor | undefined, what: string): JobActor {
  const principal = actor?.principal;
  if (!actor || !principal || !principal.id || !isRole(principal.role)) {
    throw errors.badInput(`invalid ${what}: actor.principal needs an id and a role (viewer, operator or admin)`, {
      contract: what,
    });
  }
  return {
    principal: { id: principal.id, name: principal.name, role: principal.role },
    ...(actor.requestId !== undefined ? { requestId: actor.requestId } : {}),
  };
}

export function captureMetadataToProto(
  metadata: CaptureMetadata,
): MessageInitShape<typeof CaptureMetadataMessageSchema> {
  const { capturedAt, ...text } = metadata;
  return { ...text, ...(capturedAt ? { capturedAt: timestampFromDate(capturedAt) } : {}) };
}

/** Undefined when the message has no metadata; BAD_USER_INPUT when it breaks the bounds of CaptureMetadata. */
export function captureMetadataFromProto(
  metadata: CaptureMetadataMessage | undefined,
  what: string,
): CaptureMetadata | undefined {
  if (!metadata) return undefined;
  const { line, station, camera, lot, capturedAt, tags } = metadata;
  const parsed = CaptureMetadataRules.safeParse({
    ...(line !== undefined ? { line } : {}),
    ...(station !== undefined ? { station } : {}),
    ...(camera !== undefined ? { camera } : {}),
    ...(lot !== undefined ? { lot } : {}),
    ...(capturedAt ? { capturedAt: timestampDate(capturedAt) } : {}),
    ...(tags.length > 0 ? { tags } : {}),
  });
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `metadata.${i.path.join('.')}: ${i.message}`).join('; ');
    throw errors.badInput(`invalid ${what}: ${detail}`, { contract: what });
  }
  return parsed.data;
}

/**
 * proto3 cannot tell an unset string from an empty one; fields a contract documents as required are checked here.
 * Returns the value when it is not empty.
 */
export function requireText(value: string, field: string, what: string): string {
  if (value === '') throw errors.badInput(`invalid ${what}: ${field} is required`, { contract: what, field });
  return value;
}

/** The value when it is one of `allowed`; BAD_USER_INPUT otherwise. */
export function oneOf<const T extends string>(value: string, allowed: readonly T[], field: string, what: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw errors.badInput(`invalid ${what}: ${field} must be one of ${allowed.join(', ')}`, { contract: what, field });
}
