import Link from 'next/link';

export default function NotFound() {
  return (
    <main className="lc-center">
      <div className="lc-card">
        <h1>Page not found</h1>
        <p>There is nothing at this address.</p>
        <Link className="lc-button" href="/">
          Go to the start page
        </Link>
      </div>
    </main>
  );
}
