// Verifying the gateway's webhooks (Standard Webhooks) with WebCrypto: Node 20+ and browsers.

import { WebhookVerificationError } from "./errors.js";

export const DEFAULT_TOLERANCE_SECONDS = 300;

export interface VerifyOptions {
  /** Seconds a timestamp may be off (old or future): refuses replays. */
  tolerance?: number;
  /** The current time in seconds (tests). */
  now?: number;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

/** The delivery's JSON (`{type, timestamp, data}`) once its signature and timestamp check
 * out; `WebhookVerificationError` otherwise. `secret` is the key's `whsec_…` secret, or
 * several during a rotation; `body` is the request body exactly as received. */
export async function verify(
  secret: string | string[],
  headers: HeaderSource,
  body: string | Uint8Array,
  options: VerifyOptions = {},
): Promise<unknown> {
  const header = (name: string): string => {
    const value = headers instanceof Headers ? headers.get(name) : lookup(headers, name);
    if (value == null) throw new WebhookVerificationError(`the ${name} header is missing`);
    return value;
  };
  const id = header("webhook-id");
  const timestampText = header("webhook-timestamp");
  const signatures = header("webhook-signature");
  if (!/^\d+$/.test(timestampText)) throw new WebhookVerificationError("webhook-timestamp is not a number");
  const timestamp = Number(timestampText);
  const now = options.now ?? Date.now() / 1000;
  if (Math.abs(now - timestamp) > (options.tolerance ?? DEFAULT_TOLERANCE_SECONDS)) {
    throw new WebhookVerificationError("webhook-timestamp is outside the tolerance: a replay, or a clock off");
  }
  const payload = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + payload.length);
  signed.set(prefix);
  signed.set(payload, prefix.length);
  const offered = signatures
    .split(" ")
    .filter((part) => part.startsWith("v1,"))
    .map((part) => decodeBase64(part.slice(3)))
    .filter((bytes): bytes is Uint8Array<ArrayBuffer> => bytes !== null);
  for (const candidate of Array.isArray(secret) ? secret : [secret]) {
    const keyBytes = decodeBase64(candidate.startsWith("whsec_") ? candidate.slice(6) : candidate);
    if (keyBytes === null) throw new WebhookVerificationError("the secret is not a whsec_ secret (base64 after the prefix)");
    const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    for (const signature of offered) {
      // WebCrypto's verify compares in constant time.
      if (await crypto.subtle.verify("HMAC", key, signature, signed)) return parse(payload);
    }
  }
  throw new WebhookVerificationError("no signature matches the secret");
}

function lookup(headers: Record<string, string | string[] | undefined>, name: string): string | null {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
  }
  return null;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

function parse(payload: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(payload));
  } catch {
    throw new WebhookVerificationError("the signed body is not JSON");
  }
}
