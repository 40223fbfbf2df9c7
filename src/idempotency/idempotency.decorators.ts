import { applyDecorators } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';

/** Documents the `Idempotency-Key` request header and the `Idempotent-Replayed` answer header of a creating route. */
export function ApiIdempotencyKey(): MethodDecorator {
  return applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'Up to 255 printable ASCII characters, unique per request you mean to make once. For 24 hours a retry with the same key and body ' +
        'gets the first answer again, with `Idempotent-Replayed: true`, and creates nothing; the same key with another body answers 422 `idempotency_key_reused`.',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    }),
  );
}
