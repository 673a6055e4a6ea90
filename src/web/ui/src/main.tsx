// The console's entry: session check, top bar, routes.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, describeError, get, onUnauthorized, setCsrfToken } from './api';
import { here, navigate, useLocation } from './router';
import type { Session } from './types';
import { LoginPage } from './pages/login';
import { OverviewPage } from './pages/overview';
import { DagListPage } from './pages/dag_list';
import { DagPage } from './pages/dag';
import { TriggerPage } from './pages/trigger';
import { RunPage } from './pages/run';
import { TaskPage } from './pages/task';
import { ServicesPage, ServicePage } from './pages/services';
import { NotFoundPage } from './pages/not_found';
import './styles.css';

function loginUrl(): string {
  const next = here();
  return next === '/' || next.startsWith('/login') ? '/login' : `/login?next=${encodeURIComponent(next)}`;
}

function TopBar(props: { session: Session; path: string; onLogout: () => void }) {
  const section = props.path.startsWith('/dags') ? 'dags' : props.path.startsWith('/services') ? 'services' : props.path === '/' ? 'home' : '';
  return (
    <header class="topbar">
      <a class="skip-link" href="#main">Skip to content</a>
      <a class="brand" href="/" aria-current={section === 'home' ? 'page' : undefined}>
        <span class="brand-mark" aria-hidden="true">◆</span> Orquestra
      </a>
      <nav class="mainnav" aria-label="Main">
        <a href="/dags" aria-current={section === 'dags' ? 'page' : undefined}>DAGs</a>
        <a href="/services" aria-current={section === 'services' ? 'page' : undefined}>Services</a>
      </nav>
      <div class="usermenu">
        <span class="user" title={`Signed in as ${props.session.username} (${props.session.role})`}>
          <span class="user-name">{props.session.username}</span>
          <span class="role-chip">{props.session.role}</span>
        </span>
        <button type="button" class="btn btn-ghost" onClick={props.onLogout}>Log out</button>
      </div>
    </header>
  );
}

function Routes(props: { session: Session }) {
  const loc = useLocation();
  const s = loc.segments;
  const q = loc.query;
  if (s.length === 0) return <OverviewPage />;
  if (s[0] === 'dags') {
    if (s.length === 1) return <DagListPage session={props.session} />;
    if (s.length === 2) return <DagPage session={props.session} dagId={s[1]} query={q} />;
    if (s.length === 3 && s[2] === 'trigger') return <TriggerPage session={props.session} dagId={s[1]} query={q} />;
    if (s.length === 4 && s[2] === 'runs') return <RunPage session={props.session} dagId={s[1]} runId={s[3]} />;
    if (s.length === 6 && s[2] === 'runs' && s[4] === 'tasks')
      return <TaskPage session={props.session} dagId={s[1]} runId={s[3]} taskId={s[5]} query={q} />;
  }
  if (s[0] === 'services') {
    if (s.length === 1) return <ServicesPage session={props.session} />;
    if (s.length === 2) return <ServicePage session={props.session} app={s[1]} />;
  }
  return <NotFoundPage />;
}

function App() {
  const loc = useLocation();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [fatal, setFatal] = useState<unknown>(null);

  useEffect(() => {
    onUnauthorized(() => {
      setCsrfToken(null);
      setSession(null);
      if (!location.pathname.startsWith('/login')) navigate(loginUrl(), true);
    });
    get<Session>('/ui/session', { own401: true })
      .then((s) => {
        setCsrfToken(s);
        setSession(s);
      })
      .catch((e) => {
        if (e instanceof ApiError && e.status === 401) {
          setSession(null);
          if (!location.pathname.startsWith('/login')) navigate(loginUrl(), true);
        } else {
          setFatal(e);
        }
      });
  }, []);

  const onLogin = (s: Session) => {
    setCsrfToken(s);
    setSession(s);
    const next = loc.query.get('next');
    navigate(next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/', true);
  };
  const onLogout = async () => {
    try {
      await api('DELETE', '/ui/session');
    } catch {
      /* the session is dropped here whatever the server said */
    }
    setCsrfToken(null);
    setSession(null);
    navigate('/login', true);
  };

  if (fatal) {
    return (
      <main id="main" class="page narrow">
        <h1>The console could not start</h1>
        <div class="alert alert-error" role="alert">{describeError(fatal)}</div>
        <button type="button" class="btn" onClick={() => location.reload()}>Try again</button>
      </main>
    );
  }
  if (loc.path === '/login' || (loc.path.startsWith('/login') && loc.segments.length === 1)) {
    return <LoginPage onLogin={onLogin} session={session ?? null} />;
  }
  if (session === undefined) return <main id="main" class="page"><p class="muted" role="status">Loading…</p></main>;
  if (session === null) return <main id="main" class="page"><p class="muted" role="status">Redirecting to the login page…</p></main>;
  return (
    <>
      <TopBar session={session} path={loc.path} onLogout={onLogout} />
      <main id="main" class="page" tabIndex={-1}>
        <Routes session={session} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
