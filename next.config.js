/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  // The app never loads anything from another host; tldraw's assets are copied to public/.
  poweredByHeader: false,
  serverExternalPackages: ['onnxruntime-node', 'sharp', 'better-sqlite3'],
};
export default nextConfig;
