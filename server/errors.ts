/**
 * The one error type. Domain code throws it with an HTTP status and a stable
 * `code`; the HTTP layer renders every error in one place (`http/errors.ts`).
 */
export class AppError extends Error {
  readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503;
  readonly code: string;
  readonly details: unknown;

  constructor(status: AppError['status'], code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export const badRequest = (code: string, message: string, details?: unknown) =>
  new AppError(400, code, message, details);

export const notFound = (what: string, id: string) =>
  new AppError(404, 'not_found', `${what} ${JSON.stringify(id)} does not exist`);

export const conflict = (code: string, message: string, details?: unknown) =>
  new AppError(409, code, message, details);

/**
 * The rollout moved on while a change was being decided (an `If-Match` that
 * names an older version, or a compare-and-set that lost its race). Rendered
 * as 409 like every conflict; the controller lets it go, since another
 * server decided first.
 */
export class VersionConflict extends AppError {
  constructor(message: string, details?: unknown) {
    super(409, 'version_mismatch', message, details);
    this.name = 'VersionConflict';
  }
}
