// The Content-Security-Policy and the other security headers are set by the server for every
// response (server/http/securityHeaders.ts): the page policy carries a fresh nonce per response,
// which Next reads from the request and puts on its scripts, so script-src needs no
// 'unsafe-inline'. A policy here would be a second, static one.

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  // The app never loads anything from another host; tldraw's assets are copied to public/.
  poweredByHeader: false,
  serverExternalPackages: ['onnxruntime-node', 'sharp', 'better-sqlite3'],
  // The web build type-checks only the web code (app/, lib/canvas, lib/protocol); the whole repo
  // is checked by `npm run typecheck`, and a server or test error must not break the web build.
  typescript: { tsconfigPath: 'tsconfig.web.json' },
};
export default nextConfig;
