/** Types of bundle.mjs (plain JavaScript, so that Node runs it before any TypeScript loader). */
export function daemonBundle(): Promise<string>;
export function loadServe(): Promise<(argv: string[]) => Promise<void>>;
