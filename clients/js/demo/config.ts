// The demo's settings, read from the page URL:
//
//   ?wf=<workflow id>            default "demo"
//   ?token=<JWT>                 a token minted by your backend (production servers)
//   ?user=<id>&name=<name>       --dev servers only: the token becomes "<id>:<name>"
//   ?offline=1                   start with the connection switched off
//
// Without token and user, a --dev guest id is made up once per tab.

export interface DemoConfig {
  /** websocket URL of the server that served the page */
  url: string;
  token: string;
  workflowId: string;
  /** the user as far as the page can tell (the server's Welcome is authoritative) */
  userId: string;
  userName: string;
  /** IndexedDB database: one per user, so two users in one browser profile do not share a replica */
  dbName: string;
  /** sessionStorage key that keeps the offline switch across reloads */
  offlineKey: string;
  startOffline: boolean;
}

export function readConfig(loc: Location, storage: Storage): DemoConfig {
  const q = new URLSearchParams(loc.search);
  const workflowId = q.get('wf') || 'demo';
  let token = q.get('token') ?? '';
  let userId: string;
  let userName: string;
  if (token !== '') {
    const claims = jwtClaims(token);
    userId = claims.sub ?? 'token-user';
    userName = claims.name ?? userId;
  } else {
    userId = q.get('user') || guestId(storage);
    userName = q.get('name') || userId.charAt(0).toUpperCase() + userId.slice(1);
    token = `${userId}:${userName}`;
  }
  const offlineKey = `flowsync-demo:offline:${workflowId}`;
  const fromQuery = q.get('offline');
  if (fromQuery === '1' || fromQuery === 'true') storage.setItem(offlineKey, '1');
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return {
    url: `${scheme}//${loc.host}/v1/sync`,
    token,
    workflowId,
    userId,
    userName,
    dbName: `flowsync-demo:${userId}`,
    offlineKey,
    startOffline: storage.getItem(offlineKey) === '1',
  };
}

/**
 * jwtClaims reads a JWT's sub and name claims without verifying them: only
 * to name the local database and to show who you are before the server says.
 */
export function jwtClaims(token: string): { sub?: string; name?: string } {
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as { sub?: unknown; name?: unknown };
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    return { sub: str(claims.sub), name: str(claims.name) };
  } catch {
    return {};
  }
}

function guestId(storage: Storage): string {
  const key = 'flowsync-demo:guest';
  let id = storage.getItem(key);
  if (!id) {
    id = 'guest-' + randomId(4);
    storage.setItem(key, id);
  }
  return id;
}

/** randomId returns 2n lowercase hex digits from the platform's CSPRNG. */
export function randomId(n = 8): string {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
