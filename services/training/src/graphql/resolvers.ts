import { Role } from '@vigil/contracts';
import { DateTimeScalar, requireRole, type RequestContext, type SubgraphResolvers } from '@vigil/service-kit';
import type { EvaluationNode, ModelService } from '../domain/models';
import type { PackagingService } from '../packaging/service';
import type { ModelVersion } from '../domain/model-version';
import { MODEL_STATUSES } from '../domain/statuses';

type Args = Record<string, unknown>;
const actorOf = (ctx: RequestContext) => ({ principal: ctx.principal, requestId: ctx.requestId });

/** Thin: check the role, call the service, return what it returns. */
export function trainingResolvers({
  models,
  packaging,
}: {
  models: ModelService;
  packaging: PackagingService;
}): SubgraphResolvers {
  return {
    DateTime: DateTimeScalar,
    ModelStatus: Object.fromEntries(MODEL_STATUSES.map((s) => [s, s])),
    Verdict: { NORMAL: 'normal', ANOMALY: 'anomaly' },
    Query: {
      modelVersion: (_: unknown, args: { id: string }) => models.get(args.id),
      modelPackagingJob: (_: unknown, args: { project: { id?: string; name?: string }; name: string }) =>
        packaging.byName(args.project, args.name),
      modelPackagingJobs: (
        _: unknown,
        args: { project: { id?: string; name?: string }; first?: number; after?: string },
      ) => packaging.list(args.project, args),
    },
    Mutation: {
      createModel: (_: unknown, args: { input: Args }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return models.create(args.input, actorOf(ctx));
      },
      cancelModelTraining: (_: unknown, args: { id: string }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return models.cancel(args.id, actorOf(ctx));
      },
      deleteModel: (_: unknown, args: { id: string }, ctx: RequestContext) => {
        requireRole(ctx, Role.Admin);
        return models.delete(args.id, actorOf(ctx));
      },
      startModelPackagingJob: (_: unknown, args: { input: Args }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return packaging.start(args.input, actorOf(ctx));
      },
    },
    Project: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      models: (project: { id: string }) => models.ofProject(project.id),
      model: (project: { id: string }, args: { version: number }) => models.byVersion(project.id, args.version),
    },
    ModelVersion: {
      __resolveReference: (ref: { id: string }) => models.findById(ref.id),
      project: (model: ModelVersion) => ({ __typename: 'Project', id: model.projectId }),
      progress: (model: ModelVersion) => models.progress(model),
      jobStatus: async (model: ModelVersion) => (await models.job(model))?.status ?? null,
      artifact: (model: ModelVersion) =>
        model.artifact ? { sha256: model.artifact.sha256, bytes: model.artifact.bytes } : null,
      trainingData: (model: ModelVersion) => model.engineSummary?.data ?? null,
      evaluation: (model: ModelVersion, args: { first?: number; after?: string; onlyWrong?: boolean }) =>
        models.evaluation(model, args),
    },
    ModelPackagingJob: {
      project: (job: { projectId: string }) => ({ __typename: 'Project', id: job.projectId }),
    },
    ModelEvaluation: {
      image: (node: EvaluationNode) => ({ __typename: 'Image', id: node.imageId }),
    },
  };
}
