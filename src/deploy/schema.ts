/**
 * The JSON Schema of a deployments file, for editors (`# yaml-language-server: $schema=…`).
 * `npm run schema` writes docs/jinad.deploy.schema.json; a test checks that file is current.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toJsonSchema } from '@valibot/to-json-schema';
import { DeploymentsFile } from '../contract/deployments.ts';

export const SCHEMA_FILE = fileURLToPath(new URL('../../docs/jinad.deploy.schema.json', import.meta.url));

export function deploymentsJsonSchema(): Record<string, unknown> {
  return { ...toJsonSchema(DeploymentsFile, { errorMode: 'ignore' }), title: 'JinaD deployments (jinad.deploy.yml)' };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, `${JSON.stringify(deploymentsJsonSchema(), null, 2)}\n`);
  console.log(`wrote ${SCHEMA_FILE}`);
}
