import { ParseUUIDPipe } from '@nestjs/common';
import { VerificationNotFoundError } from './otp.errors.js';

/**
 * A verification id in a path (a challenge id too): something that is not a UUID names no verification,
 * so it gets the 404 of an unknown one rather than a 400 that would tell the two apart.
 */
export const ParseVerificationIdPipe = new ParseUUIDPipe({ exceptionFactory: () => new VerificationNotFoundError() });
