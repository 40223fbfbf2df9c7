import { ValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import * as classTransformer from 'class-transformer';
import * as classValidator from 'class-validator';
import { ProblemError } from './problem.js';
import { forbiddenControlIn } from './text-input.js';

/**
 * The global pipe: class-validator on every DTO, and before it one check of every
 * string a client sends (bodies with their nested keys and values, query strings,
 * path parameters) for control characters. NUL and its kin are refused here once,
 * rather than by each DTO: they break PostgreSQL's text, agents' argv and logs.
 */
export class RequestValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: false,
      // The packages the DTOs' decorators come from, given rather than left to the pipe's own
      // import(): in the bundle, import() of a CommonJS package yields only its default export.
      validatorPackage: classValidator,
      transformerPackage: classTransformer,
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'custom') {
      const problem = forbiddenControlIn(value, metadata.metatype, metadata.data);
      if (problem) throw new ProblemError('validation_failed', problem, { extensions: { errors: [problem] } });
    }
    return super.transform(value, metadata);
  }
}
