import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { getMetadataStorage, validate, validateSync, ValidationTypes, type ValidatorOptions } from 'class-validator';
import { ValidationFailedError } from './errors.js';

/** `{ "to": ["to must be an email address"], "profile.name": [...] }`: one entry per field, dotted when nested. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const error of errors) {
    const path =
      error.property === undefined || error.property === '' ? parent || 'body' : parent ? `${parent}.${error.property}` : error.property;
    if (error.constraints) {
      result[path] = [...(result[path] ?? []), ...Object.values(error.constraints)];
    }
    if (error.children?.length) Object.assign(result, flattenValidationErrors(error.children, path));
  }
  return Object.keys(result).length > 0 ? result : { body: ['The request body is not valid.'] };
}

/**
 * Validates synchronously whenever a class has no asynchronous constraint (none of ours has). The
 * asynchronous validation makes a promise per constraint, and while the request context
 * (AsyncLocalStorage) is active every promise runs its hooks: on a validated route that does little
 * else, that was about a fifth of its CPU per request. A class with an asynchronous constraint (or a nested object) is still
 * validated asynchronously.
 */
export class SyncFirstValidationPipe extends ValidationPipe {
  private readonly asyncClasses = new WeakMap<object, boolean>();

  protected override validate(object: object, options?: ValidatorOptions): Promise<ValidationError[]> | ValidationError[] {
    return this.hasAsyncConstraint(object.constructor as new () => unknown) ? validate(object, options) : validateSync(object, options);
  }

  private hasAsyncConstraint(target: new (...args: never[]) => unknown): boolean {
    let known = this.asyncClasses.get(target);
    if (known === undefined) {
      const storage = getMetadataStorage();
      known = storage
        .getTargetValidationMetadatas(target, '', true, false)
        // A nested object's class is known only from the value, so nested validation counts as possibly asynchronous.
        .some(
          (metadata) =>
            metadata.type === ValidationTypes.NESTED_VALIDATION ||
            storage.getTargetValidatorConstraints(metadata.constraintCls).some((constraint) => constraint.async),
        );
      this.asyncClasses.set(target, known);
    }
    return known;
  }
}

/**
 * Unknown fields are refused rather than dropped, so a client's typo (`chanel`) is a clear 400
 * instead of a silently ignored setting.
 */
export function createValidationPipe(): ValidationPipe {
  return new SyncFirstValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    stopAtFirstError: false,
    exceptionFactory: (errors) => new ValidationFailedError(flattenValidationErrors(errors)),
  });
}

/** Deeper than any request body of this API needs, and far too shallow to strain the validators' recursion. */
export const MAX_JSON_DEPTH = 32;
const NUL = '\u0000';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What a parsed JSON body must not hold, by field: nesting deeper than `MAX_JSON_DEPTH`, NUL
 * characters (PostgreSQL refuses them in text, SMTP and the vendors mangle them), and unpaired
 * surrogates (not text at all: encoding one to UTF-8 silently turns it into U+FFFD, so two
 * different values would count as one). Undefined when the body is clean. Walks without
 * recursion, so no body can exhaust the stack here either.
 */
export function findHostileJson(body: unknown): Record<string, string[]> | undefined {
  const pending: { value: unknown; path: string; depth: number }[] = [{ value: body, path: '', depth: 0 }];
  while (pending.length > 0) {
    const { value, path, depth } = pending.pop()!;
    const field = path || 'body';
    if (typeof value === 'string') {
      if (value.includes(NUL)) return { [field]: [`${field} must not contain NUL characters`] };
      if (LONE_SURROGATE.test(value)) return { [field]: [`${field} must be valid Unicode text (it has an unpaired surrogate)`] };
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_JSON_DEPTH) return { body: [`The request body is nested more than ${MAX_JSON_DEPTH} levels deep.`] };
    for (const [key, child] of Object.entries(value)) {
      if (key.includes(NUL) || LONE_SURROGATE.test(key))
        return { body: ['Field names must be valid Unicode text without NUL characters.'] };
      pending.push({ value: child, path: path ? `${path}.${key}` : key, depth: depth + 1 });
    }
  }
  return undefined;
}
