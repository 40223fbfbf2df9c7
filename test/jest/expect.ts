import { expect as jestExpect } from '@jest/globals';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);

type Matchers<T> = ReturnType<typeof jestExpect<T>>;

/**
 * jest's `expect`, which also takes a message to print above the matcher's own when the
 * assertion fails: `expect(response.status, response.text).toBe(202)`. jest has no such
 * argument, and jest-expect-message patches only the global `expect`, which `@jest/globals`
 * does not hand out under jest 30.
 */
export const expect: typeof jestExpect & (<T>(actual: T, message: string) => Matchers<T>) = Object.assign(
  <T>(actual: T, message?: string): Matchers<T> => (message === undefined ? jestExpect(actual) : withMessage(jestExpect(actual), message)),
  jestExpect,
);

function withMessage<M extends object>(matchers: M, message: string): M {
  return new Proxy(matchers, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value === 'function') {
        return (...args: unknown[]) => {
          try {
            const result: unknown = value.apply(target, args);
            return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(annotate(error, message))) : result;
          } catch (error) {
            throw annotate(error, message);
          }
        };
      }
      return value !== null && typeof value === 'object' ? withMessage(value, message) : value;
    },
  });
}

/** Puts the message above the matcher's, and leaves this file's frames out so jest shows the spec's line. */
function annotate(error: unknown, message: string): unknown {
  if (!(error instanceof Error)) return error;
  error.message = `${message}\n\n${error.message}`;
  error.stack = error.stack?.split('\n').filter((line) => !line.includes(HERE)).join('\n');
  return error;
}
