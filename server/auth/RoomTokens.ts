// Signed room tokens (JWTs, via `jose`). Our own links are HS256 with one server secret — from
// AUTH_SECRET, else generated once into DATA_DIR with mode 0600 — and carry {room, role, v}, where
// `v` is the role's link version (rotating a link bumps it). Another service may mint tokens
// {room, role, name, exp} for its signed-in users with its private key; AUTH_JWT_PUBLIC_KEY (PEM,
// RS256 or ES256) lets us check them. Anything else — tampered, expired, `alg: none`, another
// algorithm, claims that do not parse — is refused.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader, importSPKI, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import { RoomTokenClaims } from '../../lib/protocol/access';

export type TokenCheck = { ok: true; claims: RoomTokenClaims; external: boolean } | { ok: false; reason: string };

const SECRET_FILE = 'auth-secret';
const EXTERNAL_ALGORITHMS = ['RS256', 'ES256'] as const;

export interface RoomTokensOptions {
  dataDir: string;
  /** AUTH_SECRET: at least 32 characters; the same on every node of a cluster */
  secret?: string;
  /** AUTH_JWT_PUBLIC_KEY: PEM (SPKI) of the key another service signs its tokens with */
  publicKeyPem?: string;
}

export class RoomTokens {
  private constructor(
    private readonly secret: Uint8Array,
    private readonly external: { key: CryptoKey; alg: string } | null,
  ) {}

  static async create(opts: RoomTokensOptions): Promise<RoomTokens> {
    const secret = opts.secret ? new TextEncoder().encode(opts.secret) : secretFromDataDir(opts.dataDir);
    if (secret.byteLength < 32) throw new Error('AUTH_SECRET must be at least 32 characters');
    let external: { key: CryptoKey; alg: string } | null = null;
    if (opts.publicKeyPem) {
      // a PEM in an environment variable often has its newlines written as \n
      external = await importKey(opts.publicKeyPem.replace(/\\n/g, '\n'));
    }
    return new RoomTokens(secret, external);
  }

  /** A link token for a role of a room at the role's current link version. */
  sign(claims: { room: string; role: RoomTokenClaims['role']; v: number }, expiresInS?: number): Promise<string> {
    const jwt = new SignJWT({ room: claims.room, role: claims.role, v: claims.v }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
    if (expiresInS) jwt.setExpirationTime(`${expiresInS}s`);
    return jwt.sign(this.secret);
  }

  async verify(token: string): Promise<TokenCheck> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return { ok: false, reason: 'the link token is not a token' };
    }
    const external = this.external && alg === this.external.alg;
    try {
      const { payload } = external
        ? await jwtVerify(token, this.external!.key, { algorithms: [this.external!.alg], requiredClaims: ['exp'] })
        : await jwtVerify(token, this.secret, { algorithms: ['HS256'] });
      const claims = RoomTokenClaims.safeParse(payload);
      if (!claims.success) return { ok: false, reason: 'the link token does not name a room and a role' };
      if (!external && claims.data.v === undefined) return { ok: false, reason: 'the link token has no link version' };
      return { ok: true, claims: claims.data, external: !!external };
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED') return { ok: false, reason: 'the link has expired' };
      if (code === 'ERR_JOSE_ALG_NOT_ALLOWED') return { ok: false, reason: `tokens signed with ${alg ?? 'no algorithm'} are not accepted` };
      return { ok: false, reason: 'the link token is not valid (tampered or signed with another key)' };
    }
  }
}

/** The key and the one algorithm its tokens may use: an RSA key RS256, a P-256 key ES256. */
async function importKey(pem: string): Promise<{ key: CryptoKey; alg: string }> {
  for (const alg of EXTERNAL_ALGORITHMS) {
    try {
      return { key: await importSPKI(pem, alg), alg };
    } catch {
      // not a key of this kind: try the other algorithm
    }
  }
  throw new Error('AUTH_JWT_PUBLIC_KEY is not an RS256 or ES256 public key in PEM (SPKI) form');
}

/** The secret generated once into DATA_DIR, readable by the server's user only. */
function secretFromDataDir(dataDir: string): Uint8Array {
  const path = join(dataDir, SECRET_FILE);
  if (!existsSync(path)) {
    mkdirSync(dataDir, { recursive: true });
    try {
      writeFileSync(path, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another process wrote it first
    }
  }
  chmodSync(path, 0o600);
  return new TextEncoder().encode(readFileSync(path, 'utf8').trim());
}
