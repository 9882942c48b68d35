import { Role } from '@vigil/contracts';
import { DateTimeScalar, requireRole, type RequestContext, type SubgraphResolvers } from '@vigil/service-kit';
import type { AutoInspectionService, AutoInspectionSetting } from '../domain/auto-inspection';
import type { HostingService } from '../domain/hosting';
import { desiredWorkers, type InferenceWorker, type WorkerRegistry } from '../domain/workers';
import type { InspectionService } from '../domain/inspections';
import type { BatchStatus, HostableVersion, Inspection, InspectionBatch, InspectionOverride } from '../domain/types';

const BATCH_STEP: Record<BatchStatus, string> = {
  EXPANDING: 'preparing the inspections',
  RUNNING: 'inspecting',
  DONE: 'done',
  FAILED: 'failed',
};

const actorOf = (ctx: RequestContext) => ({ principal: ctx.principal, requestId: ctx.requestId });
const modelRef = (id: string) => ({ __typename: 'ModelVersion', id });
const versionRef = (version: HostableVersion) => modelRef(version.id);

/** Paths of the REST routes serving an inspection's pictures (gateway, behind the API key). */
export const heatmapPath = (id: string) => `/v1/inspections/${id}/heatmap`;
export const maskPath = (id: string) => `/v1/inspections/${id}/mask`;

/** Thin: check the role, call the service, return what it returns. */
export function inferenceResolvers({
  inspections,
  hosting,
  workers,
  autoInspection,
}: {
  inspections: InspectionService;
  hosting: HostingService;
  workers: WorkerRegistry;
  autoInspection: AutoInspectionService;
}): SubgraphResolvers {
  return {
    DateTime: DateTimeScalar,
    Verdict: { NORMAL: 'normal', ANOMALY: 'anomaly' },
    Query: {
      inspection: (_: unknown, args: { id: string }) => inspections.get(args.id),
      inspections: (_: unknown, args: { filter?: unknown; first?: number; after?: string }) =>
        inspections.list(args.filter, args),
      inspectionBatch: (_: unknown, args: { id: string }) => inspections.batch(args.id),
      inferenceWorkers: () => workers.alive(),
    },
    Mutation: {
      startModel: async (
        _: unknown,
        args: { modelVersionId: string; minWorkers?: number; maxWorkers?: number | null },
        ctx: RequestContext,
      ) => {
        requireRole(ctx, Role.Operator);
        return versionRef(
          await hosting.start(args.modelVersionId, args.minWorkers ?? 1, args.maxWorkers ?? null, actorOf(ctx)),
        );
      },
      stopModel: async (_: unknown, args: { modelVersionId: string }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return versionRef(await hosting.stop(args.modelVersionId, actorOf(ctx)));
      },
      detectAnomalies: (_: unknown, args: { input: unknown }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return inspections.detect(args.input, actorOf(ctx));
      },
      submitInspectionBatch: (_: unknown, args: { input: unknown }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return inspections.submitBatch(args.input, actorOf(ctx));
      },
      overrideInspection: (_: unknown, args: { id: string; verdict: string; reason: string }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return inspections.override(args.id, args.verdict, args.reason, actorOf(ctx));
      },
      setAutoInspection: (_: unknown, args: { input: unknown }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return autoInspection.set(args.input, actorOf(ctx));
      },
    },
    AutoInspection: {
      modelVersion: (setting: AutoInspectionSetting) => modelRef(setting.modelVersionId),
      line: (setting: AutoInspectionSetting) => setting.match.line,
      station: (setting: AutoInspectionSetting) => setting.match.station,
      camera: (setting: AutoInspectionSetting) => setting.match.camera,
    },
    InferenceWorker: {
      loadedArtifacts: (worker: InferenceWorker) => worker.loadedDigests,
    },
    Project: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      recentInspections: async (project: { id: string }, args: { first?: number }) =>
        (await inspections.list({ projectId: project.id }, { first: args.first ?? 20 })).nodes,
      autoInspection: (project: { id: string }) => autoInspection.get(project.id),
    },
    ModelVersion: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      hosting: async (model: { id: string }) => {
        const deployment = await hosting.deployment(model.id);
        if (!deployment) return null;
        const version = await hosting.version(model.id);
        const hosted = deployment.desiredState === 'HOSTED';
        return {
          state: deployment.actualState,
          minWorkers: deployment.minWorkers,
          maxWorkers: deployment.maxWorkers,
          workers: hosted ? await workers.loadedBy(version.artifactSha256) : 0,
          desiredWorkers: hosted
            ? desiredWorkers(
                await inspections.pendingFor(model.id),
                workers.jobsPerWorker,
                deployment.minWorkers,
                deployment.maxWorkers,
              )
            : 0,
          message: deployment.message,
          updatedAt: deployment.updatedAt,
        };
      },
    },
    Inspection: {
      image: (inspection: Inspection) => ({ __typename: 'Image', id: inspection.imageId }),
      modelVersion: (inspection: Inspection) => modelRef(inspection.modelVersionId),
      modelVersionNumber: (inspection: Inspection) => inspection.modelVersion,
      effectiveVerdict: (inspection: Inspection) => inspections.effectiveVerdict(inspection),
      overrides: (inspection: Inspection) => inspections.overrides(inspection),
      heatmapPath: (inspection: Inspection) => (inspection.heatmapKey ? heatmapPath(inspection.id) : null),
      maskPath: (inspection: Inspection) => (inspection.maskKey ? maskPath(inspection.id) : null),
    },
    InspectionOverride: {
      at: (override: InspectionOverride) => override.at,
    },
    InspectionBatch: {
      modelVersion: (batch: InspectionBatch) => modelRef(batch.modelVersionId),
      source: (batch: InspectionBatch) => (batch.source.kind === 'source' ? batch.source.uri : null),
      error: (batch: InspectionBatch) => batch.error,
      progress: (batch: InspectionBatch) => ({
        done: batch.done + batch.failed,
        // A source batch's total is known only once its folder or prefix has been listed and ingested.
        total: batch.status === 'EXPANDING' && batch.source.kind === 'source' ? null : batch.total,
        step: BATCH_STEP[batch.status],
        percent:
          batch.status === 'EXPANDING'
            ? null
            : batch.total > 0
              ? (100 * (batch.done + batch.failed)) / batch.total
              : 100,
      }),
      inspections: (batch: InspectionBatch, args: { first?: number; after?: string }) =>
        inspections.list({ batchId: batch.id }, args),
    },
  };
}
