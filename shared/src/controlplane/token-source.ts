// The bearer-token provider every control-plane request asks before it is sent. Its own module so
// that the HTTP layer (http.ts) and the token sources (credentials.ts) need not import each other.

/**
 * A bearer token provider. `token()` is called before every dial and request, so it may be cheap
 * and cached; `refresh()` is called after a 401 and must make the next `token()` return the newest
 * credential there is (re-read a file, mint a new one). `refused` is the token the 401 answered, so
 * a source that has moved on to a newer one since does not take the newer one for refused.
 */
export interface TokenSource {
  token(): Promise<string>;
  refresh?(refused?: string): Promise<void>;
}
