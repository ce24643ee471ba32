// Room tokens: our HS256 links and another service's RS256/ES256 tokens, and every way a token
// must be refused (tampered, expired, alg none, another algorithm, missing claims).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { RoomTokens } from '../../server/auth/RoomTokens';

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('RoomTokens', () => {
  it('generates its secret once into DATA_DIR (mode 0600) and verifies its own links', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-tokens-'));
    const a = await RoomTokens.create({ dataDir });
    const secret = readFileSync(join(dataDir, 'auth-secret'), 'utf8');
    expect(statSync(join(dataDir, 'auth-secret')).mode & 0o777).toBe(0o600);
    const token = await a.sign({ room: 'room-aaaaaaaaaa', role: 'viewer', v: 3 });
    // a second server on the same DATA_DIR reads the same secret
    const b = await RoomTokens.create({ dataDir });
    expect(readFileSync(join(dataDir, 'auth-secret'), 'utf8')).toBe(secret);
    expect(await b.verify(token)).toEqual({ ok: true, external: false, claims: { room: 'room-aaaaaaaaaa', role: 'viewer', v: 3 } });
  });

  it('refuses tampered, expired, alg:none and foreign-secret tokens', async () => {
    const t = await RoomTokens.create({ dataDir: mkdtempSync(join(tmpdir(), 'lc-tokens-')), secret: 'x'.repeat(40) });
    const good = await t.sign({ room: 'room-aaaaaaaaaa', role: 'viewer', v: 1 });
    const [h, , sig] = good.split('.');
    const tampered = `${h}.${b64url({ room: 'room-aaaaaaaaaa', role: 'owner', v: 1 })}.${sig}`;
    expect(await t.verify(tampered)).toMatchObject({ ok: false });
    const none = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ room: 'room-aaaaaaaaaa', role: 'owner', v: 1 })}.`;
    expect(await t.verify(none)).toMatchObject({ ok: false, reason: expect.stringMatching(/not accepted|not valid/) });
    const expired = await new SignJWT({ room: 'room-aaaaaaaaaa', role: 'editor', v: 1 })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(new TextEncoder().encode('x'.repeat(40)));
    expect(await t.verify(expired)).toEqual({ ok: false, reason: 'the link has expired' });
    const other = await RoomTokens.create({ dataDir: mkdtempSync(join(tmpdir(), 'lc-tokens-')), secret: 'y'.repeat(40) });
    expect(await t.verify(await other.sign({ room: 'room-aaaaaaaaaa', role: 'owner', v: 1 }))).toMatchObject({ ok: false });
    expect(await t.verify('not a token')).toMatchObject({ ok: false });
  });

  for (const kind of ['rsa', 'ec'] as const) {
    it(`accepts tokens another service signs with its ${kind === 'rsa' ? 'RS256' : 'ES256'} key (AUTH_JWT_PUBLIC_KEY), name included`, async () => {
      const pair =
        kind === 'rsa'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const alg = kind === 'rsa' ? 'RS256' : 'ES256';
      const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const t = await RoomTokens.create({ dataDir: mkdtempSync(join(tmpdir(), 'lc-tokens-')), secret: 'x'.repeat(40), publicKeyPem: pem });
      const key = await importPKCS8(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), alg);
      const token = await new SignJWT({ room: 'room-aaaaaaaaaa', role: 'editor', name: 'Dana (SSO)' })
        .setProtectedHeader({ alg })
        .setExpirationTime('1h')
        .sign(key);
      expect(await t.verify(token)).toEqual({ ok: true, external: true, claims: { room: 'room-aaaaaaaaaa', role: 'editor', name: 'Dana (SSO)' } });
      // without exp a minted token is refused: a leaked one must not live forever
      const forever = await new SignJWT({ room: 'room-aaaaaaaaaa', role: 'editor', name: 'Dana' }).setProtectedHeader({ alg }).sign(key);
      expect(await t.verify(forever)).toMatchObject({ ok: false });
    });
  }
});
