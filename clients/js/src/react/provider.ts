// FlowsyncProvider: puts one client (and the stores the hooks read) into
// React's context, and, when given options rather than a client, opens the
// client and closes it with the tree.

import { createContext, createElement, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { FlowsyncClient, FlowsyncError, type FlowsyncClientOptions } from '../index';
import { FlowsyncStore } from './store';

const StoreContext = createContext<FlowsyncStore | null>(null);

interface ChildrenProps {
  children?: ReactNode;
}

/** A client the app opened and closes itself: the provider never closes it. */
export interface FlowsyncProviderClientProps extends ChildrenProps {
  client: FlowsyncClient;
}

/**
 * Options to open a client with: the provider opens it when it mounts and
 * closes it when it unmounts (closing waits for storage and releases the
 * replica id). url, workflowId, token, dbName and a persistence given by
 * name are read when the client opens; when one of them changes, the
 * client is closed and another opened. The other options are read once:
 * give the provider a new React key to reopen with them.
 */
export interface FlowsyncProviderOptionsProps extends ChildrenProps {
  options: FlowsyncClientOptions;
  /** Rendered instead of the children while the client opens, and after it failed to. Default nothing. */
  fallback?: ReactNode;
  /** Told why the client could not be opened (a FlowsyncError: 'config', 'persistence'). */
  onError?: (error: Error) => void;
  /** Told the client once it is open (for the app's own listeners, tests, devtools). */
  onOpen?: (client: FlowsyncClient) => void;
}

export type FlowsyncProviderProps = FlowsyncProviderClientProps | FlowsyncProviderOptionsProps;

/**
 * FlowsyncProvider makes a client available to the hooks below it
 * (useWorkflow, useBlock, useStatus, usePresence, useOperations). Pass
 * `client` to share a client the app manages, or `options` to let the
 * provider open and close one. The hooks' listeners on the client live as
 * long as the components using them: when the tree unmounts, the client has
 * none of them left.
 */
export function FlowsyncProvider(props: FlowsyncProviderProps): ReactNode {
  if ('client' in props && props.client) return createElement(ClientProvider, { client: props.client }, props.children);
  if (!('options' in props) || !props.options) {
    throw new FlowsyncError('config', 'flowsync: FlowsyncProvider needs a client or options');
  }
  return createElement(OptionsProvider, props);
}

function ClientProvider({ client, children }: FlowsyncProviderClientProps): ReactNode {
  const store = useMemo(() => new FlowsyncStore(client), [client]);
  return createElement(StoreContext.Provider, { value: store }, children);
}

function OptionsProvider({ options, fallback = null, onError, onOpen, children }: FlowsyncProviderOptionsProps): ReactNode {
  const [client, setClient] = useState<FlowsyncClient | null>(null);
  // The latest props, read when the client opens (not a reason to reopen).
  const latest = useRef({ options, onError, onOpen });
  latest.current = { options, onError, onOpen };
  const persistence = typeof options.persistence === 'string' ? options.persistence : '';
  const key = JSON.stringify([options.url, options.workflowId, options.token, options.dbName ?? '', persistence]);

  useEffect(() => {
    let ended = false;
    const opening = FlowsyncClient.open(latest.current.options);
    opening.then(
      (c) => {
        if (ended) return;
        setClient(c);
        latest.current.onOpen?.(c);
      },
      (err: unknown) => {
        if (!ended) latest.current.onError?.(err instanceof Error ? err : new Error(String(err)));
      },
    );
    return () => {
      ended = true;
      setClient(null);
      // A client that opens after the tree went away is closed as soon as it is open.
      opening.then(
        (c) => c.close().catch(() => {}),
        () => {},
      );
    };
  }, [key]);

  if (!client) return fallback;
  return createElement(ClientProvider, { client }, children);
}

/** useStore returns the provider's store; outside a provider it throws a FlowsyncError ('config'). */
export function useStore(): FlowsyncStore {
  const store = useContext(StoreContext);
  if (!store) throw new FlowsyncError('config', 'flowsync: the flowsync hooks need a <FlowsyncProvider> above them');
  return store;
}
