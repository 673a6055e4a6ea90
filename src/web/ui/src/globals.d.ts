/** The hashed URL of the layout worker, set by build.mjs. */
declare const LAYOUT_WORKER_URL: string;

declare module '*.css';
