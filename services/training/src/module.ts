import type { Kysely } from 'kysely';
import type { Database } from '@vigil/db';
import type { AuditTrail, JobSystem, Logger, SubgraphDefinition } from '@vigil/service-kit';
import type { ObjectStore } from '@vigil/storage';
import { typeDefs } from './graphql/type-defs';
import { trainingResolvers } from './graphql/resolvers';
import { lazyEngine, type Engine } from './domain/engine';
import { ModelService, type Transactor } from './domain/models';
import { KyselyModelVersionRepository } from './repositories/model-versions';
import { KyselyEvaluationRepository } from './repositories/evaluations';
import { KyselyTrainingDataSource } from './repositories/training-data';
import { Trainer, type ImageBytes } from './jobs/trainer';
import { TrainingJobKind, TrainingQueue, TrainModelPayloadSchema } from './jobs/payloads';
import { KyselyPackagingJobRepository } from './packaging/repository';
import { PackagingJobKind, PackagingService, type OnnxExporter, type PackageWriter } from './packaging/service';

export interface TrainingConfig {
  /** onnxruntime threads a training uses. */
  readonly engineThreads: number;
  readonly maxMaskBytes: number;
}

export interface TrainingDeps {
  readonly db: Kysely<Database>;
  readonly store: ObjectStore;
  /** The image catalogue (shared library, same database and store). */
  readonly images: ImageBytes;
  readonly jobs: JobSystem;
  readonly audit: AuditTrail;
  readonly log: Logger;
  readonly config: TrainingConfig;
  /** The engine; default: @vigil/engine, loaded on the first training. */
  readonly engine?: () => Promise<Engine>;
  /** Where model packaging jobs write edge packages (the customer's S3); absent: packaging is refused. */
  readonly packageWriter?: PackageWriter;
  /** The engine's ONNX export; default: @vigil/engine, loaded on the first packaging job. */
  readonly exporter?: OnnxExporter;
}

export interface TrainingModule {
  readonly subgraph: SubgraphDefinition;
  readonly models: ModelService;
  readonly packaging: PackagingService;
  registerWorkers(): void;
}

export function createTrainingService(deps: TrainingDeps): TrainingModule {
  const tx: Transactor = { transaction: (work) => deps.db.transaction().execute(work) };
  const versions = new KyselyModelVersionRepository(deps.db);
  const evaluations = new KyselyEvaluationRepository(deps.db);
  const data = new KyselyTrainingDataSource(deps.db);
  const models = new ModelService(versions, evaluations, data, deps.jobs, deps.store, deps.audit, tx);
  const trainer = new Trainer(
    versions,
    evaluations,
    data,
    deps.images,
    deps.store,
    deps.engine ?? lazyEngine(),
    deps.audit,
    tx,
    { threads: deps.config.engineThreads, maxMaskBytes: deps.config.maxMaskBytes },
  );
  const packaging = new PackagingService(
    new KyselyPackagingJobRepository(deps.db),
    versions,
    data,
    deps.jobs,
    deps.store,
    deps.audit,
    deps.exporter ?? (() => import('@vigil/engine')),
    deps.packageWriter ?? null,
  );
  return {
    subgraph: { name: 'training', typeDefs, resolvers: trainingResolvers({ models, packaging }) },
    models,
    packaging,
    registerWorkers: () => {
      deps.jobs.register(TrainingQueue.Training, TrainingJobKind.TrainModel, (payload, context) =>
        trainer.train(TrainModelPayloadSchema.parse(payload), context),
      );
      deps.jobs.register(TrainingQueue.Training, PackagingJobKind, (payload) => packaging.run(payload));
    },
  };
}
