// Request validation with TypeBox's compiler. Query strings and path params are converted from
// text to the schema's types first; bodies are checked as sent, so a JSON null or a nested
// object is never silently coerced into a string field.
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler } from 'fastify';

class ValidationError extends Error {
  readonly statusCode = 400;
  readonly code = 'FST_ERR_VALIDATION';
}

export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  const convert = httpPart !== 'body';
  return (data: unknown) => {
    const value = convert ? Value.Convert(schema, data) : data;
    if (check.Check(value)) return { value };
    const first = check.Errors(value).First();
    const where = `${httpPart ?? 'request'}${first?.path ?? ''}`;
    const message =
      first?.message === 'Expected union value'
        ? 'expected one string, number or boolean value'
        : (first?.message ?? 'invalid');
    return { error: new ValidationError(`${where}: ${message}`) };
  };
};
