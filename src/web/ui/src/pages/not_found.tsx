import { useEffect } from 'preact/hooks';

export function NotFoundPage() {
  useEffect(() => {
    document.title = 'Page not found · Orquestra';
  }, []);
  return (
    <section class="not-found">
      <p class="not-found-code" aria-hidden="true">404</p>
      <h1>Page not found</h1>
      <p class="muted">
        Nothing lives at <code>{location.pathname}</code>. It may have moved, or the link was mistyped.
      </p>
      <p>
        <a class="btn btn-primary" href="/">Go to the overview</a> <a class="btn" href="/dags">See the DAGs</a>
      </p>
    </section>
  );
}
