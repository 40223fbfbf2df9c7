import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { AppConfig } from '../config/configuration.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretsKeyMissingError extends Error {
  override name = 'SecretsKeyMissingError';
}

/**
 * Encrypts secrets at rest with AES-256-GCM. The key is derived (HKDF-SHA256) from SECRETS_KEY or
 * the key generated once into DATA_DIR. Each secret is bound to the row it belongs to (the
 * additional data), so a ciphertext copied onto another row does not decrypt.
 */
@Injectable()
export class SecretsCipher {
  private readonly key: Buffer | null;

  constructor(config: ConfigService<AppConfig, true>) {
    const secret = config.get('forge.secretsKey', { infer: true });
    this.key = secret === null ? null : Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'autocode workspace credentials', 32));
  }

  /** `v1.<iv>.<tag>.<ciphertext>`, each part base64url. */
  encrypt(plaintext: string, boundTo: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.requireKey(), iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(boundTo, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv, cipher.getAuthTag(), ciphertext].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
  }

  /** The plaintext, or null when the envelope is not one of ours or was made with another key or for another row. */
  decrypt(envelope: string, boundTo: string): string | null {
    const [version, iv, tag, ciphertext, ...rest] = envelope.split('.');
    if (version !== VERSION || iv === undefined || tag === undefined || ciphertext === undefined || rest.length > 0) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.requireKey(), Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(boundTo, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch (error) {
      if (error instanceof SecretsKeyMissingError) throw error;
      return null;
    }
  }

  private requireKey(): Buffer {
    if (!this.key) throw new SecretsKeyMissingError('no secrets key: set SECRETS_KEY, or run the server once on this DATA_DIR to generate one');
    return this.key;
  }
}
