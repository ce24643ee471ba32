// The page may talk to its own origin only (the product makes no request to another host; tldraw
// would otherwise reach its CDN, e.g. the licence check's tracking call). Next needs inline scripts
// and styles; `next dev` also needs eval (React Refresh). Uploaded images are same-origin URLs;
// data:/blob: are tldraw's previews, exports and fonts.
const contentSecurityPolicy = [
  "default-src 'self'",
  `script-src 'self' 'unsafe-inline'${process.env.NODE_ENV === 'production' ? '' : " 'unsafe-eval'"}`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self' data: blob:",
  "media-src 'self' data: blob:",
  "worker-src 'self' blob:",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

/** @type {import('next').NextConfig} */
const nextConfig = {
  async headers() {
    return [{ source: '/:path*', headers: [{ key: 'Content-Security-Policy', value: contentSecurityPolicy }] }];
  },
  reactStrictMode: true,
  // The app never loads anything from another host; tldraw's assets are copied to public/.
  poweredByHeader: false,
  serverExternalPackages: ['onnxruntime-node', 'sharp', 'better-sqlite3'],
  // The web build type-checks only the web code (app/, lib/canvas, lib/protocol); the whole repo
  // is checked by `npm run typecheck`, and a server or test error must not break the web build.
  typescript: { tsconfigPath: 'tsconfig.web.json' },
};
export default nextConfig;
