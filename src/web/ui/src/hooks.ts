import { useEffect, useState } from 'preact/hooks';

/** True while the media query matches (e.g. the phone layout). */
export function useMedia(query: string): boolean {
  const [match, setMatch] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const m = window.matchMedia(query);
    const on = () => setMatch(m.matches);
    m.addEventListener('change', on);
    on();
    return () => m.removeEventListener('change', on);
  }, [query]);
  return match;
}

export const PHONE = '(max-width: 600px)';

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Orquestra`;
  }, [title]);
}
