import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ValidationFailedError } from './errors.js';

/** `{ "to": ["to must be an email address"], "profile.name": [...] }`: one entry per field, dotted when nested. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const error of errors) {
    const path = error.property === undefined || error.property === '' ? parent || 'body' : parent ? `${parent}.${error.property}` : error.property;
    if (error.constraints) {
      result[path] = [...(result[path] ?? []), ...Object.values(error.constraints)];
    }
    if (error.children?.length) Object.assign(result, flattenValidationErrors(error.children, path));
  }
  return Object.keys(result).length > 0 ? result : { body: ['The request body is not valid.'] };
}

/**
 * Unknown fields are refused rather than dropped, so a client's typo (`chanel`) is a clear 400
 * instead of a silently ignored setting.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
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
