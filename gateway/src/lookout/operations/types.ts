import type { GatewayContext } from '../../context';
import type { ArnScheme } from '../arn';
import type { GraphQLExecutor, InferenceHttp } from '../backend';
import type { LookoutStore } from '../store';

/** One authenticated REST call, already verified. */
export interface LookoutCall {
  readonly context: GatewayContext;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | string[]>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  readonly clientToken: string | undefined;
}

export interface LookoutReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface LookoutDeps {
  readonly execute: GraphQLExecutor;
  readonly inference: InferenceHttp;
  readonly store: LookoutStore;
  readonly arns: ArnScheme;
  /** Writes a trained version's evaluation to its OutputConfig location; absent: not written. */
  readonly outputs?: EvaluationWriter;
}

export interface EvaluationWriter {
  write(location: { bucket: string; key: string }, body: string): Promise<void>;
}

export interface LookoutOperation {
  readonly name: string;
  readonly method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  /** Express path below the `/2020-11-20` prefix. */
  readonly path: string;
  /** Mutating operations replay their first answer for a repeated X-Amzn-Client-Token. */
  readonly idempotent: boolean;
  handle(call: LookoutCall, deps: LookoutDeps): Promise<LookoutReply>;
}
