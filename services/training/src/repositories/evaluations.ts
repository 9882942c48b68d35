import type { Kysely } from 'kysely';
import type { Database, ModelEvaluationRow } from '@vigil/db';
import type { Evaluation } from '../domain/metrics';

export interface EvaluationRepository {
  insertMany(modelVersionId: string, rows: readonly Evaluation[], db?: Kysely<Database>): Promise<void>;
  /** `limit + 1` rows after `afterImageId`, in image id order. */
  list(
    modelVersionId: string,
    filter: { onlyWrong: boolean },
    limit: number,
    afterImageId: string | null,
  ): Promise<ModelEvaluationRow[]>;
  count(modelVersionId: string, filter: { onlyWrong: boolean }): Promise<number>;
}

export class KyselyEvaluationRepository implements EvaluationRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insertMany(modelVersionId: string, rows: readonly Evaluation[], db = this.db): Promise<void> {
    // Chunks keep each statement well under Postgres' 65535-parameter limit.
    for (let i = 0; i < rows.length; i += 1000) {
      await db
        .insertInto('model_evaluations')
        .values(
          rows.slice(i, i + 1000).map((r) => ({
            model_version_id: modelVersionId,
            image_id: r.imageId,
            expected: r.expected,
            score: r.score,
            raw_score: r.rawScore,
            verdict: r.verdict,
            correct: r.correct,
            mask_key: r.maskKey,
          })),
        )
        .onConflict((oc) => oc.columns(['model_version_id', 'image_id']).doNothing())
        .execute();
    }
  }

  list(
    modelVersionId: string,
    filter: { onlyWrong: boolean },
    limit: number,
    afterImageId: string | null,
  ): Promise<ModelEvaluationRow[]> {
    let query = this.db.selectFrom('model_evaluations').selectAll().where('model_version_id', '=', modelVersionId);
    if (filter.onlyWrong) query = query.where('correct', '=', false);
    if (afterImageId !== null) query = query.where('image_id', '>', afterImageId);
    return query
      .orderBy('image_id')
      .limit(limit + 1)
      .execute();
  }

  async count(modelVersionId: string, filter: { onlyWrong: boolean }): Promise<number> {
    let query = this.db
      .selectFrom('model_evaluations')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('model_version_id', '=', modelVersionId);
    if (filter.onlyWrong) query = query.where('correct', '=', false);
    const row = await query.executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}
