// Hardened-mode access tokens of one instance. "A token is valid only on its own instance and until
// its TTL runs out" (seed 002: 有効期間は 1 ~ 21600 秒; 別の ECS インスタンスのメタデータには
// アクセスできません): each VM has its own store, so another VM's token is simply unknown here.

import { randomBytes } from 'node:crypto';
import type { Clock } from '../../time/clock.js';

export const TOKEN_TTL_MIN_S = 1;
export const TOKEN_TTL_MAX_S = 21600;

export type TokenCheck = 'valid' | 'unknown' | 'expired';

export class TokenStore {
  private tokens = new Map<string, number>();

  constructor(private readonly clock: Pick<Clock, 'now'>) {}

  issue(ttlSeconds: number): string {
    this.forgetExpired();
    const token = randomBytes(42).toString('base64url');
    this.tokens.set(token, this.clock.now() + ttlSeconds * 1000);
    return token;
  }

  check(token: string): TokenCheck {
    const expiresAt = this.tokens.get(token);
    if (expiresAt === undefined) return 'unknown';
    return this.clock.now() < expiresAt ? 'valid' : 'expired';
  }

  private forgetExpired(): void {
    // Keep recently expired tokens a while so a client gets "expired" rather than "unknown".
    const horizon = this.clock.now() - 3_600_000;
    for (const [token, expiresAt] of this.tokens) if (expiresAt < horizon) this.tokens.delete(token);
  }
}
