import { errors, ErrorCode, VigilError } from '@vigil/contracts';
import { findModel } from './lookups';
import { modelVersionParam, projectNameParam } from './request';
import type { LookoutCall, LookoutOperation } from './types';

/** The inference service's answer to `POST /v1/detect` (its own REST contract, not Lookout's). */
interface DetectAnswer {
  inspection?: {
    id: string;
    status: string;
    verdict: string | null;
    confidence: number | null;
    maskKey: string | null;
    anomalies: { name: string; totalPercentageArea: number; color: string }[] | null;
  };
  error?: { code: string; message: string; details?: Record<string, unknown> };
}

/** The body's media type; Lookout takes only PNG and JPEG. */
function imageContentType(call: LookoutCall): 'image/png' | 'image/jpeg' {
  const contentType = String(call.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (contentType !== 'image/png' && contentType !== 'image/jpeg') {
    throw errors.badInput(`ContentType must be image/png or image/jpeg (got '${contentType || 'none'}')`);
  }
  return contentType;
}

/**
 * The inference service's error as the VigilError it was, so the edge maps its code once (a full queue stays a
 * ThrottlingException with its retry-after); a code this gateway does not know is internal.
 */
function inferenceError(error: NonNullable<DetectAnswer['error']>, retryAfter: string | null): VigilError {
  const code = (Object.values(ErrorCode) as string[]).includes(error.code)
    ? (error.code as ErrorCode)
    : ErrorCode.Internal;
  return new VigilError(code, error.message, {
    ...(error.details ?? {}),
    ...(retryAfter ? { retryAfterSeconds: Number(retryAfter) } : {}),
  });
}

/** DetectAnomalies: the image goes to the inference service as the caller, the verdict comes back in Lookout's shape. */
export const detectOperations: readonly LookoutOperation[] = [
  {
    name: 'DetectAnomalies',
    method: 'POST',
    path: '/projects/:projectName/models/:modelVersion/detect',
    idempotent: false,
    async handle(call, deps) {
      const name = projectNameParam(call);
      const contentType = imageContentType(call);
      if (call.body.length === 0) throw errors.badInput('Body must hold the image bytes');
      const model = await findModel(deps, call, name, modelVersionParam(call));
      const answer = await deps.inference.request(
        call.context,
        'POST',
        `/v1/detect?modelVersionId=${encodeURIComponent(model.id)}`,
        { bytes: call.body, contentType },
      );
      const parsed = JSON.parse(answer.body.toString('utf8') || '{}') as DetectAnswer;
      if (parsed.error) throw inferenceError(parsed.error, answer.headers.get('retry-after'));
      const inspection = parsed.inspection;
      if (!inspection || inspection.status !== 'DONE' || inspection.verdict === null) {
        throw new VigilError(ErrorCode.Unavailable, 'the detection did not finish in time; retry', {
          retryAfterSeconds: 1,
        });
      }
      let mask: string | undefined;
      if (inspection.maskKey) {
        const picture = await deps.inference.request(call.context, 'GET', `/v1/inspections/${inspection.id}/mask`);
        if (picture.status === 200) mask = picture.body.toString('base64');
      }
      return {
        status: 200,
        body: {
          DetectAnomalyResult: {
            Source: { Type: 'direct' },
            IsAnomalous: inspection.verdict === 'anomaly',
            Confidence: inspection.confidence ?? 0,
            ...(inspection.anomalies
              ? {
                  Anomalies: inspection.anomalies.map((a) => ({
                    Name: a.name,
                    PixelAnomaly: { TotalPercentageArea: a.totalPercentageArea, Color: a.color },
                  })),
                }
              : {}),
            ...(mask ? { AnomalyMask: mask } : {}),
          },
        },
      };
    },
  },
];
