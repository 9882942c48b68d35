import { z } from 'zod';
import { errors, isUuid, Role, type Principal } from '@vigil/contracts';
import { captureMetadataFromProto, decodeJson, eventsV1, requireText } from '@vigil/proto';
import type { AuditTrail, Logger } from '@vigil/service-kit';
import { HostingStatus, type Actor } from './hosting';
import { sizeMismatch, type InspectionService } from './inspections';
import type { HostingRepository } from './types';

/** Which newly ingested images a project inspects automatically: every field set must equal the image's. */
export interface AutoInspectionMatch {
  readonly line: string | null;
  readonly station: string | null;
  readonly camera: string | null;
}

export interface AutoInspectionSetting {
  readonly projectId: string;
  readonly modelVersionId: string;
  readonly enabled: boolean;
  readonly match: AutoInspectionMatch;
  readonly updatedBy: string;
  readonly updatedAt: Date;
}

export interface AutoInspectionRepository {
  projectExists(id: string): Promise<boolean>;
  find(projectId: string): Promise<AutoInspectionSetting | null>;
  listEnabled(): Promise<AutoInspectionSetting[]>;
  save(setting: Omit<AutoInspectionSetting, 'updatedAt'>): Promise<AutoInspectionSetting>;
}

/** A new image as the ImageIngested event describes it. */
export interface IngestedImage {
  readonly imageId: string;
  readonly width: number;
  readonly height: number;
  readonly line: string | null;
  readonly station: string | null;
  readonly camera: string | null;
}

const Text = z.string().trim().min(1).max(200).nullish();
const SetInputSchema = z.object({
  projectId: z.string(),
  modelVersionId: z.string().nullish(),
  enabled: z.boolean(),
  line: Text,
  station: Text,
  camera: Text,
});

/** Decodes the event job's payload (BAD_USER_INPUT, not retried, when it is not an ImageIngested). */
export function decodeImageIngested(json: unknown): IngestedImage {
  const schema = eventsV1.ImageIngestedSchema;
  const event = decodeJson(schema, json);
  const metadata = captureMetadataFromProto(event.metadata, schema.typeName);
  return {
    imageId: requireText(event.imageId, 'imageId', schema.typeName),
    width: event.width,
    height: event.height,
    line: metadata?.line ?? null,
    station: metadata?.station ?? null,
    camera: metadata?.camera ?? null,
  };
}

export function matches(match: AutoInspectionMatch, image: IngestedImage): boolean {
  return (
    (match.line === null || match.line === image.line) &&
    (match.station === null || match.station === image.station) &&
    (match.camera === null || match.camera === image.camera)
  );
}

/** Who asks for an automatic inspection (the record's requestedBy). */
export const AUTO_INSPECTION_PRINCIPAL: Principal = {
  id: 'auto-inspection',
  name: 'auto-inspection',
  role: Role.Operator,
};

/**
 * The seed's S3 notification + Lambda step: per project, an operator names a hosted version (and optionally a
 * line, station or camera); every newly ingested image that matches is inspected on the batch queue, once per
 * (image, project, version) whatever the event's redeliveries.
 */
export class AutoInspectionService {
  constructor(
    private readonly repo: AutoInspectionRepository,
    private readonly hosting: HostingRepository,
    private readonly inspections: InspectionService,
    private readonly audit: AuditTrail,
    private readonly log: Logger,
  ) {}

  async get(projectId: string): Promise<AutoInspectionSetting | null> {
    return isUuid(projectId) ? this.repo.find(projectId) : null;
  }

  /** Enabling needs a hosted version of the project; disabling keeps the last setting. Audit-logged. */
  async set(input: unknown, actor: Actor): Promise<AutoInspectionSetting> {
    const parsed = SetInputSchema.safeParse(input);
    if (!parsed.success) {
      throw errors.badInput(
        `invalid auto-inspection setting: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    const { projectId, enabled } = parsed.data;
    if (!isUuid(projectId) || !(await this.repo.projectExists(projectId))) throw errors.notFound('project', projectId);
    const before = await this.repo.find(projectId);
    const modelVersionId = parsed.data.modelVersionId ?? before?.modelVersionId;
    if (!modelVersionId) throw errors.badInput('name the model version to inspect with (modelVersionId)');
    const version = isUuid(modelVersionId) ? await this.hosting.findVersion(modelVersionId) : null;
    if (!version) throw errors.notFound('model version', modelVersionId);
    if (version.projectId !== projectId) {
      throw errors.badInput(`model version ${modelVersionId} belongs to another project`, { projectId });
    }
    if (enabled && version.status !== HostingStatus.Hosted) {
      throw errors.conflict(
        `model version ${version.version} is not hosted (status ${version.status}): start it first`,
        {
          modelVersionId,
          status: version.status,
        },
      );
    }
    const saved = await this.repo.save({
      projectId,
      modelVersionId,
      enabled,
      match: {
        line: parsed.data.line ?? null,
        station: parsed.data.station ?? null,
        camera: parsed.data.camera ?? null,
      },
      updatedBy: actor.principal.id,
    });
    await this.audit.record({
      actor: actor.principal,
      action: 'inspection.auto.set',
      entityType: 'project',
      entityId: projectId,
      before: before ? settingJson(before) : null,
      after: settingJson(saved),
      ...(actor.requestId ? { requestId: actor.requestId } : {}),
    });
    return saved;
  }

  /**
   * The ImageIngested handler: one inspection per enabled project whose match fits, with its version if it is
   * still hosted and the image has its size. A full queue throws RESOURCE_EXHAUSTED, so the event job is
   * retried later rather than dropped.
   */
  async onImageIngested(image: IngestedImage): Promise<{ inspected: number; skipped: number }> {
    let inspected = 0;
    let skipped = 0;
    for (const setting of await this.repo.listEnabled()) {
      if (!matches(setting.match, image)) continue;
      const version = await this.hosting.findVersion(setting.modelVersionId);
      if (!version || version.status !== HostingStatus.Hosted) {
        this.log.warn(
          { projectId: setting.projectId, modelVersionId: setting.modelVersionId, imageId: image.imageId },
          'auto-inspection skipped: its model version is not hosted',
        );
        skipped += 1;
        continue;
      }
      if (sizeMismatch(version, image)) {
        this.log.info(
          { projectId: setting.projectId, imageId: image.imageId, width: image.width, height: image.height },
          'auto-inspection skipped: the image does not have the training images size',
        );
        skipped += 1;
        continue;
      }
      await this.inspections.autoInspect(version, image.imageId, {
        principal: AUTO_INSPECTION_PRINCIPAL,
        requestId: `auto:${image.imageId}`,
      });
      inspected += 1;
    }
    return { inspected, skipped };
  }
}

function settingJson(setting: AutoInspectionSetting) {
  return { modelVersionId: setting.modelVersionId, enabled: setting.enabled, ...setting.match };
}
