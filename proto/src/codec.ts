import {
  create,
  fromJson,
  toJson,
  type DescMessage,
  type JsonValue,
  type MessageInitShape,
  type MessageJsonType,
  type MessageShape,
} from '@bufbuild/protobuf';
import { errors } from '@vigil/contracts';

/**
 * A contract message in its protobuf JSON form (lowerCamelCase field names, unset fields left out): the form job
 * rows keep in their jsonb `payload` and events travel in.
 */
export function encodeJson<Desc extends DescMessage>(
  schema: Desc,
  init: MessageInitShape<Desc>,
): MessageJsonType<Desc> {
  // With json_types=true every generated schema carries its JSON type; TypeScript cannot see that for a generic Desc.
  return toJson(schema, create(schema, init)) as MessageJsonType<Desc>;
}

/**
 * Reads a contract message from its JSON form. Unknown fields are ignored so that a worker still reads jobs a newer
 * producer wrote during a rolling upgrade. Anything malformed is BAD_USER_INPUT, which the job runner does not retry:
 * another attempt would read the same bytes.
 */
export function decodeJson<Desc extends DescMessage>(schema: Desc, json: unknown): MessageShape<Desc> {
  try {
    return fromJson(schema, json as JsonValue, { ignoreUnknownFields: true });
  } catch (error) {
    throw errors.badInput(`invalid ${schema.typeName}: ${error instanceof Error ? error.message : String(error)}`, {
      contract: schema.typeName,
    });
  }
}
