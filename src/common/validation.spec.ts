import { IsString, Matches, Validate, ValidateNested, ValidatorConstraint, type ValidatorConstraintInterface } from 'class-validator';
import { Type } from 'class-transformer';
import { CheckVerificationDto } from '../otp/dto/verification.dto.js';
import { ValidationFailedError } from './errors.js';
import { createValidationPipe, findHostileJson, MAX_JSON_DEPTH } from './validation.js';

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

describe('findHostileJson', () => {
  const nestedArrays = (depth: number) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown;

  it('lets ordinary bodies through, emoji and all', () => {
    expect(findHostileJson({ to: 'ada@example.com', name: 'Ada 👩‍💻', tags: [1, null, { a: 'b' }] })).toBeUndefined();
    expect(findHostileJson(nestedArrays(MAX_JSON_DEPTH))).toBeUndefined();
  });

  it('names the field that holds a NUL character or an unpaired surrogate', () => {
    expect(findHostileJson({ identifier: 'a\u0000b@example.com' })).toEqual({ identifier: ['identifier must not contain NUL characters'] });
    expect(findHostileJson({ profile: { email: 'x\ud800@example.com' } })).toEqual({
      'profile.email': ['profile.email must be valid Unicode text (it has an unpaired surrogate)'],
    });
    expect(findHostileJson({ list: ['ok', '\udc00'] })).toEqual({
      'list.1': ['list.1 must be valid Unicode text (it has an unpaired surrogate)'],
    });
    expect(findHostileJson({ ['k\u0000']: 1 })).toEqual({ body: ['Field names must be valid Unicode text without NUL characters.'] });
  });

  it('refuses nesting deeper than the limit, however deep, without recursion', () => {
    for (const depth of [MAX_JSON_DEPTH + 1, 1500, 30_000]) {
      expect(findHostileJson(nestedArrays(depth))).toEqual({
        body: [`The request body is nested more than ${MAX_JSON_DEPTH} levels deep.`],
      });
    }
  });
});
