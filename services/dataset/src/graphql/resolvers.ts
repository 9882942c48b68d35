import { DatasetType, EntryLabel, Role } from '@vigil/contracts';
import {
  DateTimeScalar,
  enumValues,
  requireRole,
  type RequestContext,
  type SubgraphResolvers,
} from '@vigil/service-kit';
import type { DatasetEntry, DatasetService, Dataset } from '../domain/datasets';
import type { Project, ProjectService } from '../domain/projects';
import type { ManifestExporter } from '../domain/manifest-export';
import type { DatasetImportJobs } from '../imports/jobs';

export interface DatasetResolverDeps {
  readonly projects: ProjectService;
  readonly datasets: DatasetService;
  readonly imports: DatasetImportJobs;
  readonly exporter: ManifestExporter;
}

type Args = Record<string, unknown>;
const actorOf = (ctx: RequestContext) => ({ principal: ctx.principal, requestId: ctx.requestId });

/** Thin: check the role, call the service, return what it returns. */
export function datasetResolvers({ projects, datasets, imports, exporter }: DatasetResolverDeps): SubgraphResolvers {
  return {
    DateTime: DateTimeScalar,
    DatasetType: enumValues([DatasetType.Train, DatasetType.Test]),
    EntryLabel: enumValues([EntryLabel.Normal, EntryLabel.Anomaly, EntryLabel.Unlabelled]),
    Query: {
      projects: (_: unknown, args: { first?: number; after?: string }) => projects.list(args.first, args.after),
      project: (_: unknown, args: { id?: string; name?: string }) => projects.resolve(args),
      dataset: (_: unknown, args: { id: string }) => datasets.get(args.id),
      datasetEntry: (_: unknown, args: { id: string }) => datasets.getEntry(args.id),
      datasetImportJob: (_: unknown, args: { id: string }) => imports.get(args.id),
      exportManifest: (_: unknown, args: { datasetId: string }) => exporter.export(args.datasetId),
    },
    Mutation: {
      createProject: (_: unknown, args: { input: { name: string; description?: string } }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return projects.create(args.input, actorOf(ctx));
      },
      updateProject: (
        _: unknown,
        args: { id: string; input: { description?: string | null } },
        ctx: RequestContext,
      ) => {
        requireRole(ctx, Role.Operator);
        return projects.update(args.id, args.input, actorOf(ctx));
      },
      deleteProject: (_: unknown, args: { id: string }, ctx: RequestContext) => {
        requireRole(ctx, Role.Admin);
        return projects.delete(args.id, actorOf(ctx));
      },
      createDataset: (_: unknown, args: { projectId: string; type: DatasetType }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return datasets.create(args.projectId, args.type, actorOf(ctx));
      },
      deleteDataset: (_: unknown, args: { id: string }, ctx: RequestContext) => {
        requireRole(ctx, Role.Admin);
        return datasets.delete(args.id, actorOf(ctx));
      },
      addDatasetEntries: async (
        _: unknown,
        args: { datasetId: string; entries: { imageId: string; label: EntryLabel }[] },
        ctx: RequestContext,
      ) => {
        requireRole(ctx, Role.Operator);
        const entries = args.entries.map((e) => ({
          imageId: e.imageId,
          label: e.label,
          maskKey: null,
          maskClasses: [],
          sourceRef: null,
        }));
        return (await datasets.addEntries(args.datasetId, entries, actorOf(ctx))).entries;
      },
      relabelDatasetEntries: (_: unknown, args: { entryIds: string[]; label: EntryLabel }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return datasets.relabel(args.entryIds, args.label, actorOf(ctx));
      },
      removeDatasetEntries: (_: unknown, args: { entryIds: string[] }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return datasets.removeEntries(args.entryIds, actorOf(ctx));
      },
      splitDataset: (
        _: unknown,
        args: { projectId: string; testFraction: number; seed: number },
        ctx: RequestContext,
      ) => {
        requireRole(ctx, Role.Operator);
        return datasets.split(args.projectId, { testFraction: args.testFraction, seed: args.seed }, actorOf(ctx));
      },
      importManifest: (_: unknown, args: { input: Args }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return imports.submitManifest(args.input, actorOf(ctx));
      },
      importFolder: (_: unknown, args: { input: Args }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return imports.submitFolder(args.input, actorOf(ctx));
      },
      cancelDatasetImport: (_: unknown, args: { id: string }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return imports.cancel(args.id, actorOf(ctx));
      },
    },
    Project: {
      __resolveReference: (ref: { id: string }) => projects.findById(ref.id),
      datasets: (project: Project) => datasets.ofProject(project.id),
      dataset: (project: Project, args: { type: DatasetType }) => datasets.find(project.id, args.type),
    },
    Dataset: {
      __resolveReference: (ref: { id: string }) => datasets.get(ref.id),
      project: (dataset: Dataset) => projects.get(dataset.projectId),
      stats: (dataset: Dataset) => datasets.stats(dataset.id),
      entries: (dataset: Dataset, args: { label?: EntryLabel; hasMask?: boolean; first?: number; after?: string }) =>
        datasets.listEntries(
          dataset.id,
          {
            ...(args.label ? { label: args.label } : {}),
            ...(args.hasMask === undefined || args.hasMask === null ? {} : { hasMask: args.hasMask }),
          },
          args.first,
          args.after,
        ),
    },
    DatasetEntry: {
      __resolveReference: (ref: { id: string }) => datasets.getEntry(ref.id),
      dataset: (entry: DatasetEntry) => datasets.get(entry.datasetId),
      image: (entry: DatasetEntry) => ({ __typename: 'Image', id: entry.imageId }),
    },
    DatasetImportJob: {
      __resolveReference: (ref: { id: string }) => imports.get(ref.id),
    },
  };
}
