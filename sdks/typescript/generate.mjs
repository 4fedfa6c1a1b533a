// Writes the SDK's types, src/schema.ts, from the repository's openapi.json with the
// pinned openapi-typescript (`npm run generate`). The tests call `generate()` and compare.

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";

export const SPEC = new URL("../../openapi.json", import.meta.url);
export const OUTPUT = new URL("./src/schema.ts", import.meta.url);

const HEADER = "// Generated from openapi.json by sdks/typescript/generate.mjs (npm run generate): do not edit.\n\n";

/** The types of `openapi.json`, as src/schema.ts holds them. */
export async function generate() {
  // A default makes a field optional in a request, not required.
  const ast = await openapiTS(SPEC, { defaultNonNullable: false });
  return HEADER + astToString(ast);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(OUTPUT, await generate());
}
