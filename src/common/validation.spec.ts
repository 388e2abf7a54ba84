import { IsString, Matches, Validate, ValidateNested, ValidatorConstraint, type ValidatorConstraintInterface } from 'class-validator';
import { Type } from 'class-transformer';
import { CheckVerificationDto } from '../otp/dto/verification.dto.js';
import { ValidationFailedError } from './errors.js';
import { createValidationPipe } from './validation.js';

@ValidatorConstraint({ name: 'slowlyRefused', async: true })
class SlowlyRefused implements ValidatorConstraintInterface {
  async validate(): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return false;
  }

  defaultMessage(): string {
    return 'name was refused by a lookup';
  }
}

class WithAsyncConstraint {
  @IsString()
  @Validate(SlowlyRefused)
  name!: string;
}

class Inner {
  @Matches(/^\d+$/, { message: 'digits must be digits' })
  digits!: string;
}

class WithNested {
  @ValidateNested()
  @Type(() => Inner)
  inner!: Inner;
}

const body = <T>(metatype: new () => T) => ({ type: 'body' as const, metatype });

async function errorsOf(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationFailedError);
    return (error as ValidationFailedError).details;
  }
  throw new Error('expected the body to be refused');
}

describe('the validation pipe', () => {
  const pipe = createValidationPipe();

  it('accepts a valid body and returns an instance of its class', async () => {
    const value = await pipe.transform({ id: '0b6f0d1c-5d1e-4f9e-9a55-3a2a8d1c9e10', code: '123456' }, body(CheckVerificationDto));
    expect(value).toBeInstanceOf(CheckVerificationDto);
  });

  it('names every problem of an invalid body, unknown fields included', async () => {
    const details = await errorsOf(() => pipe.transform({ id: 'nope', code: '12', chanel: 'sms' }, body(CheckVerificationDto)));
    expect(details).toEqual({
      errors: {
        code: ['code must be 4 to 10 digits'],
        id: ['id must be a verification id (or give to and purpose instead)'],
        chanel: ['property chanel should not exist'],
      },
    });
  });

  // Synchronous validation skips asynchronous constraints silently: a class that has one must still be refused by it.
  it('still runs an asynchronous constraint', async () => {
    const details = await errorsOf(() => pipe.transform({ name: 'ada' }, body(WithAsyncConstraint)));
    expect(details).toEqual({ errors: { name: ['name was refused by a lookup'] } });
  });

  it('validates nested objects', async () => {
    const details = await errorsOf(() => pipe.transform({ inner: { digits: 'x' } }, body(WithNested)));
    expect(details).toEqual({ errors: { 'inner.digits': ['digits must be digits'] } });
  });
});
