// Errors the client throws: one class per kind of refusal, each carrying the gateway's
// problem document (RFC 9457) and the JSON Pointers of the invalid fields.

/** One invalid field: where (a JSON Pointer such as `/prompt` or `/parts/archive`) and why. */
export interface FieldProblem {
  pointer: string;
  message: string;
}

/** Anything this client throws on purpose. */
export class CcgateError extends Error {
  override name = "CcgateError";
}

/** The gateway refused a request; `errors` names the fields, `retryAfter` (seconds) is
 * set when the gateway said when to try again. */
export class ApiError extends CcgateError {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    readonly detail: string,
    readonly errors: FieldProblem[],
    readonly retryAfter: number | null,
  ) {
    super(`${status} ${title}: ${detail}`);
  }

  /** The JSON Pointers of the invalid fields, in the gateway's order. */
  get pointers(): string[] {
    return this.errors.map((error) => error.pointer);
  }
}

/** 400: the request could not be read. */
export class BadRequestError extends ApiError {}
/** 401: no key, or an unknown or revoked one. */
export class AuthenticationError extends ApiError {}
/** 402: the key's spending or token budget is used up. */
export class BudgetExceededError extends ApiError {}
/** 403: the key lacks the scope, or the option is not allowed. */
export class PermissionDeniedError extends ApiError {}
/** 404: no such task (or not this key's). */
export class NotFoundError extends ApiError {}
/** 409: the task is not in a state that takes this request. */
export class ConflictError extends ApiError {}
/** 410: the workspace or artifacts were deleted by the retention policy. */
export class GoneError extends ApiError {}
/** 422: invalid fields, named in `errors` by JSON Pointer. */
export class ValidationError extends ApiError {}
/** 429: too many requests, uploads or streams; see `retryAfter`. */
export class RateLimitedError extends ApiError {}
/** 503: overloaded or shutting down; see `retryAfter`. */
export class UnavailableError extends ApiError {}

/** An event stream could not be resumed after repeated connection failures. */
export class StreamError extends CcgateError {
  override name = "StreamError";
}
/** `wait` gave up before the task finished. */
export class WaitTimeout extends CcgateError {
  override name = "WaitTimeout";
}
/** A webhook's signature or timestamp did not verify: do not trust its body. */
export class WebhookVerificationError extends CcgateError {
  override name = "WebhookVerificationError";
}

const BY_STATUS: Record<number, typeof ApiError> = {
  400: BadRequestError,
  401: AuthenticationError,
  402: BudgetExceededError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  410: GoneError,
  422: ValidationError,
  429: RateLimitedError,
  503: UnavailableError,
};

/** `Retry-After` as seconds: the gateway sends whole seconds; an HTTP date is read too. */
export function retryAfterSeconds(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const when = Date.parse(text);
  return Number.isNaN(when) ? null : Math.max(0, (when - now) / 1000);
}

/** The error for a refused response, from its problem document when it has one. */
export function apiError(status: number, statusText: string, headers: Headers, body: string): ApiError {
  let problem: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
      problem = parsed as Record<string, unknown>;
    }
  } catch {
    // Not JSON (a proxy's page, say): the status alone speaks.
  }
  const errors = (Array.isArray(problem.errors) ? problem.errors : [])
    .filter((item): item is Record<string, unknown> => item !== null && typeof item === "object")
    .map((item) => ({ pointer: String(item.pointer ?? ""), message: String(item.message ?? "") }));
  const Kind = BY_STATUS[status] ?? ApiError;
  return new Kind(
    status,
    String(problem.type ?? "about:blank"),
    String(problem.title ?? statusText),
    String(problem.detail ?? body.slice(0, 500)),
    errors,
    retryAfterSeconds(headers.get("retry-after")),
  );
}
