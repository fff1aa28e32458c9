// The flowsync React demo: a block list and editor, a roster with who is
// editing what, a status indicator and an offline switch, built with the
// SDK's React bindings (../../src/react). Served by `flowsync serve` at
// /demo/react/ (sync/server/web.go); built by ../../build.mjs. The same URL
// parameters as the canvas demo (../config.ts); both pages edit the same
// workflows and can be open side by side.

import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { FlowsyncClient } from '../../src/index';
import { FlowsyncProvider } from '../../src/react';
import { readConfig } from '../config';
import { App } from './app';

/** For end-to-end tests and the curious: the live client and a JSON view of the document (as the canvas demo's). */
interface DemoHandle {
  client: FlowsyncClient;
  view(): unknown;
  banners(): string[];
}

const cfg = readConfig(location, sessionStorage);
const root = document.getElementById('root');
if (!root) throw new Error('demo: missing #root');

/** Every banner shown, for the end-to-end tests (the page shows the last few). */
const bannerLog: string[] = [];

function opened(client: FlowsyncClient): void {
  // Releases the replica id (so a reload claims it back) and lets storage finish.
  window.addEventListener('pagehide', () => void client.close());
  (window as unknown as { __flowsync: DemoHandle }).__flowsync = {
    client,
    view: () => JSON.parse(JSON.stringify(client.view())) as unknown,
    banners: () => [...bannerLog],
  };
  document.body.dataset.ready = 'true';
}

function Root() {
  const [error, setError] = useState<Error | null>(null);
  const failed = (err: Error): void => {
    bannerLog.push(`error: ${err.message}`);
    document.body.dataset.ready = 'failed';
    console.error(err);
    setError(err);
  };
  const fallback = error ? (
    <p className="loading error" role="alert">
      The editor could not start: {error.message.replace(/^flowsync: /, '')}
    </p>
  ) : (
    <p className="loading" data-testid="loading">
      Opening the workflow…
    </p>
  );
  return (
  <FlowsyncProvider
    options={{
      url: cfg.url,
      token: cfg.token,
      workflowId: cfg.workflowId,
      persistence: 'indexeddb',
      dbName: cfg.dbName,
      clientName: 'flowsync-react-demo',
      autoConnect: !cfg.startOffline,
    }}
    fallback={fallback}
    onOpen={opened}
    onError={failed}
  >
    <App cfg={cfg} log={bannerLog} />
  </FlowsyncProvider>
  );
}

createRoot(root).render(<Root />);
