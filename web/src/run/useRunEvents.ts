import { finalStatusOf, type AutocodeClient, type RunEvent } from '@autocode/client';
import { useEffect, useRef, useState } from 'react';
import { describeError } from '../api';

export type Stream = 'stdout' | 'stderr' | 'message';

/** The longest stretch, in ms, spent on incoming events before yielding to the browser. */
const SLICE_MS = 8;
/** Renders of the log and the timeline as events arrive, at most one per this many ms. */
const RENDER_INTERVAL_MS = 100;

/** The run's log lines and its other events, kept outside React state: a run may print 100,000 lines. */
export interface RunEventStore {
  lines: string[];
  streams: Stream[];
  timeline: RunEvent[];
}

/** The events after which the run view itself changed (its status, its pending approval): the page fetches it again. */
const RUN_CHANGING = new Set(['status', 'approval_requested', 'approval_decided']);

/**
 * Follows the run's events (replay, then live, resumed after dropped connections) into a store,
 * calls `onRunChange` after the events that change the run view, and re-renders at most ten times a second however fast they come (in the animation frame after
 * the pause, so a hidden tab does not render at all).
 */
export function useRunEvents(client: AutocodeClient, id: string, onRunChange: () => void): { store: RunEventStore; version: number; error: string | null; done: boolean } {
  const store = useRef<RunEventStore>({ lines: [], streams: [], timeline: [] });
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const changeRef = useRef(onRunChange);
  changeRef.current = onRunChange;

  useEffect(() => {
    store.current = { lines: [], streams: [], timeline: [] };
    setVersion(0);
    setError(null);
    setDone(false);
    const abort = new AbortController();
    let frame = 0;
    let timer = 0;
    let renderedAt = 0;
    const schedule = (): void => {
      if (frame || timer) return;
      timer = window.setTimeout(() => {
        timer = 0;
        frame = window.requestAnimationFrame(render);
      }, Math.max(0, renderedAt + RENDER_INTERVAL_MS - performance.now()));
    };
    const render = (): void => {
      frame = 0;
      renderedAt = performance.now();
      setVersion((value) => value + 1);
    };
    void (async () => {
      try {
        // A replay arrives in large chunks: the loop gives the page back to the browser every few
        // milliseconds, so scrolling and typing stay responsive while thousands of events are read.
        let sliceStart = performance.now();
        for await (const event of client.followRun(id, { signal: abort.signal })) {
          if (performance.now() - sliceStart > SLICE_MS) {
            await new Promise((resolve) => window.setTimeout(resolve, 0));
            sliceStart = performance.now();
          }
          const current = store.current;
          const data = event.data as Record<string, unknown>;
          if (event.type === 'stdout' || event.type === 'stderr') {
            current.lines.push(String(data.line ?? ''));
            current.streams.push(event.type);
          } else {
            if (event.type === 'message') {
              for (const line of String(data.text ?? '').split('\n')) {
                current.lines.push(line);
                current.streams.push('message');
              }
            }
            current.timeline.push(event);
            if (RUN_CHANGING.has(event.type)) changeRef.current();
          }
          schedule();
          if (finalStatusOf(event)) setDone(true);
        }
      } catch (caught) {
        if (!abort.signal.aborted) setError(describeError(caught));
      }
    })();
    return () => {
      abort.abort();
      if (frame) window.cancelAnimationFrame(frame);
      if (timer) window.clearTimeout(timer);
    };
  }, [client, id]);

  return { store: store.current, version, error, done };
}
