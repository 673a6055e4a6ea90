import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, describeError } from '../api';
import { navigate } from '../router';
import type { Session } from '../types';

export function LoginPage(props: { onLogin: (s: Session) => void; session: Session | null }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const userRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = 'Log in · Orquestra';
    userRef.current?.focus();
  }, []);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError('');
    try {
      const s = await api<Session>('POST', '/ui/session', { username, password }, { own401: true });
      props.onLogin(s);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setError('Wrong username or password');
      else if (e instanceof ApiError && e.status === 429)
        setError(`Too many failed logins, try again in ${e.retryAfter ?? 'a few'} s`);
      else setError(describeError(e));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="login-page">
      <form class="login-card" onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <div class="login-brand">
          <span class="brand-mark" aria-hidden="true">◆</span>
          <span>Orquestra</span>
        </div>
        <h1>Log in</h1>
        {props.session && (
          <p class="muted">
            Signed in as {props.session.username}. <a href="/" onClick={(e) => { e.preventDefault(); navigate('/'); }}>Go to the overview</a>
          </p>
        )}
        {error && (
          <div id="login-error" class="alert alert-error" role="alert">{error}</div>
        )}
        <div class="field">
          <label for="login-username">Username</label>
          <input
            ref={userRef}
            id="login-username"
            name="username"
            autocomplete="username"
            autocapitalize="none"
            spellcheck={false}
            required
            value={username}
            onInput={(e) => setUsername((e.currentTarget as HTMLInputElement).value)}
          />
        </div>
        <div class="field">
          <label for="login-password">Password</label>
          <input
            id="login-password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)}
          />
        </div>
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
