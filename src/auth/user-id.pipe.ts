import { Injectable, PipeTransform } from '@nestjs/common';
import { ProblemError } from '../common/problem.js';
import { MAX_USER_ID_LENGTH } from './token.service.js';

/** A user id from a path: any string of 1 to 128 characters, as a token's `sub`. */
@Injectable()
export class UserIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_USER_ID_LENGTH) {
      throw new ProblemError('validation_failed', `a user id is 1 to ${MAX_USER_ID_LENGTH} characters`);
    }
    return value;
  }
}
