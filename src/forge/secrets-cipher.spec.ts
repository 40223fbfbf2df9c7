import { describe, expect, it } from '@jest/globals';
import type { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../config/configuration.js';
import { SecretsCipher, SecretsKeyMissingError } from './secrets-cipher.js';

function cipher(key: string | null): SecretsCipher {
  const config = { get: (name: string) => (name === 'forge.secretsKey' ? key : undefined) } as unknown as ConfigService<AppConfig, true>;
  return new SecretsCipher(config);
}

describe('SecretsCipher', () => {
  const key = 'k'.repeat(40);

  it('encrypts so that the plaintext is not in the envelope, and decrypts it back', () => {
    const envelope = cipher(key).encrypt('ghp_supersecret', 'row-1');
    expect(envelope).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(envelope).not.toContain('supersecret');
    expect(Buffer.from(envelope.split('.')[3]!, 'base64url').toString('latin1')).not.toContain('supersecret');
    expect(cipher(key).decrypt(envelope, 'row-1')).toBe('ghp_supersecret');
  });

  it('uses a fresh IV each time', () => {
    expect(cipher(key).encrypt('same', 'row-1')).not.toBe(cipher(key).encrypt('same', 'row-1'));
  });

  it('refuses an envelope of another row, another key, or one that was tampered with', () => {
    const envelope = cipher(key).encrypt('ghp_supersecret', 'row-1');
    expect(cipher(key).decrypt(envelope, 'row-2')).toBeNull();
    expect(cipher('o'.repeat(40)).decrypt(envelope, 'row-1')).toBeNull();
    const parts = envelope.split('.');
    const flipped = Buffer.from(parts[3]!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(cipher(key).decrypt([parts[0], parts[1], parts[2], flipped.toString('base64url')].join('.'), 'row-1')).toBeNull();
    expect(cipher(key).decrypt('plaintext', 'row-1')).toBeNull();
  });

  it('says so when there is no key', () => {
    expect(() => cipher(null).encrypt('x', 'row-1')).toThrow(SecretsKeyMissingError);
  });
});
