// The committed types are what the pinned generator makes of the committed openapi.json.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { OUTPUT, generate } from "../generate.mjs";

test("src/schema.ts is generated from openapi.json", async () => {
  const fresh = await generate();
  assert.ok(fresh === readFileSync(OUTPUT, "utf8"), "src/schema.ts is stale: run `npm run generate` in sdks/typescript");
});
