import { ValidateBy, type ValidationOptions } from 'class-validator';
import { normalizeEmailAddress, normalizePhoneNumber } from './addresses.js';

/** A string that `normalizeEmailAddress` accepts: the one address syntax of the service. */
export function IsEmailAddress(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isEmailAddress',
      validator: { validate: (value: unknown) => typeof value === 'string' && normalizeEmailAddress(value) !== undefined },
    },
    options,
  );
}

/** A string that `normalizePhoneNumber` accepts: a valid number in international form. */
export function IsInternationalPhoneNumber(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isInternationalPhoneNumber',
      validator: { validate: (value: unknown) => typeof value === 'string' && normalizePhoneNumber(value) !== undefined },
    },
    options,
  );
}
