import { Role } from '@vigil/contracts';
import type { ImageCatalog, ImageRecord } from '@vigil/images';
import { DateTimeScalar, requireRole, type RequestContext, type SubgraphResolvers } from '@vigil/service-kit';
import type { ImageImportJobs } from '../imports/jobs';

export interface IngestionResolverDeps {
  readonly catalog: ImageCatalog;
  readonly imports: ImageImportJobs;
}

interface ImageFilterInput {
  line?: string | null;
  station?: string | null;
  camera?: string | null;
  lot?: string | null;
  tag?: string | null;
  capturedAfter?: Date | null;
  capturedBefore?: Date | null;
}

export function contentPath(imageId: string): string {
  return `/v1/images/${imageId}/content`;
}

function toFilters(input: ImageFilterInput | null | undefined) {
  const f = input ?? {};
  return {
    ...(f.line ? { line: f.line } : {}),
    ...(f.station ? { station: f.station } : {}),
    ...(f.camera ? { camera: f.camera } : {}),
    ...(f.lot ? { lot: f.lot } : {}),
    ...(f.tag ? { tag: f.tag } : {}),
    ...(f.capturedAfter ? { capturedFrom: f.capturedAfter } : {}),
    ...(f.capturedBefore ? { capturedTo: f.capturedBefore } : {}),
  };
}

const actorOf = (ctx: RequestContext) => ({ principal: ctx.principal, requestId: ctx.requestId });

export function ingestionResolvers({ catalog, imports }: IngestionResolverDeps): SubgraphResolvers {
  return {
    DateTime: DateTimeScalar,
    Query: {
      image: (_: unknown, args: { id: string }) => catalog.get(args.id),
      images: async (_: unknown, args: { filter?: ImageFilterInput; first?: number; after?: string }) => {
        const page = await catalog.list({
          filters: toFilters(args.filter),
          ...(args.first ? { first: args.first } : {}),
          after: args.after ?? null,
        });
        return { nodes: page.items, pageInfo: page.pageInfo };
      },
      imageImportJob: (_: unknown, args: { id: string }) => imports.get(args.id),
    },
    Mutation: {
      importImages: (_: unknown, args: { input: unknown }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return imports.submit(args.input, actorOf(ctx));
      },
      cancelImageImport: (_: unknown, args: { id: string }, ctx: RequestContext) => {
        requireRole(ctx, Role.Operator);
        return imports.cancel(args.id, actorOf(ctx));
      },
    },
    Image: {
      __resolveReference: (ref: { id: string }) => catalog.get(ref.id),
      format: (image: ImageRecord) => image.format.toUpperCase(),
      contentPath: (image: ImageRecord) => contentPath(image.id),
    },
    ImageImportJob: {
      __resolveReference: (ref: { id: string }) => imports.get(ref.id),
    },
  };
}
