import type { Metadata, Viewport } from 'next';
import { headers } from 'next/headers';
import type { ReactNode } from 'react';
import './globals.css';

export const metadata: Metadata = {
  title: 'Livecanvas',
  description: 'Sketch together, see it rendered live.',
};

export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

export default async function RootLayout({ children }: { children: ReactNode }) {
  // Every page is rendered per request, never prerendered: the Content-Security-Policy allows only
  // scripts carrying this response's nonce (server/http/securityHeaders.ts). Next reads the nonce
  // from the request's policy and puts it on its own scripts; a <Script> added here takes
  // `nonce={(await headers()).get('x-nonce') ?? undefined}`.
  await headers();
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
