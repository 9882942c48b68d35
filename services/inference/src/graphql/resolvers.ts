import { Role } from '@vigil/contracts';
import { DateTimeScalar, requireRole, type RequestContext, type SubgraphResolvers } from '@vigil/service-kit';
import type { HostingService } from '../domain/hosting';
import type { InspectionService } from '../domain/inspections';
import type { HostableVersion, Inspection, InspectionBatch, InspectionOverride } from '../domain/types';

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
}: {
  inspections: InspectionService;
  hosting: HostingService;
}): SubgraphResolvers {
  return {
    DateTime: DateTimeScalar,
    Verdict: { NORMAL: 'normal', ANOMALY: 'anomaly' },
    Query: {
      inspection: (_: unknown, args: { id: string }) => inspections.get(args.id),
      inspections: (_: unknown, args: { filter?: unknown; first?: number; after?: string }) =>
        inspections.list(args.filter, args),
      inspectionBatch: (_: unknown, args: { id: string }) => inspections.batch(args.id),
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
    },
    Project: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      recentInspections: async (project: { id: string }, args: { first?: number }) =>
        (await inspections.list({ projectId: project.id }, { first: args.first ?? 20 })).nodes,
    },
    ModelVersion: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      hosting: async (model: { id: string }) => {
        const deployment = await hosting.deployment(model.id);
        return deployment
          ? {
              state: deployment.actualState,
              minWorkers: deployment.minWorkers,
              maxWorkers: deployment.maxWorkers,
              message: deployment.message,
              updatedAt: deployment.updatedAt,
            }
          : null;
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
      progress: (batch: InspectionBatch) => ({
        done: batch.done + batch.failed,
        total: batch.total,
        step: batch.status === 'DONE' ? 'done' : 'inspecting',
        percent: batch.total > 0 ? (100 * (batch.done + batch.failed)) / batch.total : 100,
      }),
      inspections: (batch: InspectionBatch, args: { first?: number; after?: string }) =>
        inspections.list({ batchId: batch.id }, args),
    },
  };
}
