/** Worker-thread side of `ModelPool`: one model per worker, single-threaded onnxruntime. */
import { parentPort, workerData } from 'node:worker_threads';
import { isVigilError } from '@vigil/contracts';
import { loadModel, type AnomalyModel, type DetectOptions } from './model';

export interface WorkerInit {
  readonly artifact: Uint8Array;
  readonly threads: number;
  readonly cacheDir?: string;
}

export interface WorkerRequest {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly opts: DetectOptions;
}

export type WorkerReply =
  | { readonly id: -1; readonly ready: true }
  | { readonly id: -1; readonly fatal: string }
  | { readonly id: number; readonly result: unknown }
  | {
      readonly id: number;
      readonly error: { code?: string; message: string; details?: Record<string, unknown> };
    };

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const init = workerData as WorkerInit;
  let model: AnomalyModel;
  try {
    model = await loadModel(init.artifact, {
      threads: init.threads,
      ...(init.cacheDir ? { cacheDir: init.cacheDir } : {}),
    });
  } catch (e) {
    port.postMessage({ id: -1, fatal: e instanceof Error ? e.message : String(e) } satisfies WorkerReply);
    return;
  }
  port.on('message', (req: WorkerRequest | 'close') => {
    if (req === 'close') {
      void model.release().then(() => port.close());
      return;
    }
    model.detect(req.bytes, req.opts).then(
      (result) => {
        const transfer: ArrayBuffer[] = [];
        for (const b of [result.heatmap, result.segmentation?.mask, result.anomalyMap?.data])
          if (b && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer)
            transfer.push(b.buffer);
        port.postMessage({ id: req.id, result } satisfies WorkerReply, transfer);
      },
      (e: unknown) => {
        const error = isVigilError(e)
          ? { code: e.code, message: e.message, details: { ...e.details } }
          : { message: e instanceof Error ? e.message : String(e) };
        port.postMessage({ id: req.id, error } satisfies WorkerReply);
      },
    );
  });
  port.postMessage({ id: -1, ready: true } satisfies WorkerReply);
}

void main();
