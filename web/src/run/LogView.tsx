import { useCallback, useLayoutEffect, useRef, useState } from 'react';
import { parseAnsi } from './ansi';
import type { RunEventStore } from './useRunEvents';

const LINE_HEIGHT = 18;
const OVERSCAN = 20;
/** A short log takes the room it needs; a long one at most 60 % of the window (36 rem at most). */
const boxHeight = (count: number): number => Math.min(Math.min(576, Math.round(window.innerHeight * 0.6)), Math.max(5 * LINE_HEIGHT, count * LINE_HEIGHT) + 16);

/**
 * The run's log: only the lines in view are in the DOM, so 100,000 lines scroll as smoothly as
 * ten. It follows the end as lines arrive unless the reader has scrolled up.
 */
export function LogView({ store, version }: { store: RunEventStore; version: number }) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);
  const [following, setFollowing] = useState(true);
  const followingRef = useRef(true);
  const count = store.lines.length;

  const onScroll = useCallback(() => {
    const element = box.current!;
    const atEnd = element.scrollTop + element.clientHeight >= element.scrollHeight - LINE_HEIGHT * 2;
    followingRef.current = atEnd;
    setFollowing(atEnd);
    setScrollTop(element.scrollTop);
  }, []);

  useLayoutEffect(() => {
    const element = box.current!;
    setHeight(element.clientHeight);
    const observer = new ResizeObserver(() => setHeight(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  // New lines: stay at the end when following.
  useLayoutEffect(() => {
    const element = box.current!;
    if (followingRef.current && element.scrollHeight > element.clientHeight) {
      element.scrollTop = element.scrollHeight;
      setScrollTop(element.scrollTop);
    }
  }, [version, count]);

  const jumpToEnd = (): void => {
    followingRef.current = true;
    setFollowing(true);
    box.current!.scrollTop = box.current!.scrollHeight;
  };

  const first = Math.max(0, Math.floor(scrollTop / LINE_HEIGHT) - OVERSCAN);
  const last = Math.min(count, Math.ceil((scrollTop + height) / LINE_HEIGHT) + OVERSCAN);
  const rows = [];
  for (let index = first; index < last; index += 1) {
    rows.push(
      <div key={index} className={`log-line ${store.streams[index]}`} style={{ transform: `translateY(${index * LINE_HEIGHT}px)` }}>
        <span className="log-number" aria-hidden="true">
          {index + 1}
        </span>
        {parseAnsi(store.lines[index]!).map((segment, at) => (
          <span key={at} className={segment.className || undefined}>
            {segment.text}
          </span>
        ))}
      </div>,
    );
  }

  return (
    <div className="log-frame">
      <div ref={box} className="log" role="log" aria-label="Log" aria-live="off" tabIndex={0} onScroll={onScroll} style={{ height: `${boxHeight(count)}px` }}>
        <div className="log-space" style={{ height: `${count * LINE_HEIGHT}px` }}>
          {rows}
        </div>
        {count === 0 && <p className="muted log-empty">No output yet.</p>}
      </div>
      <p className="log-status">
        <span>{count === 1 ? '1 line' : `${count.toLocaleString()} lines`}</span>
        {!following && (
          <button type="button" className="button subtle" onClick={jumpToEnd}>
            Follow the end
          </button>
        )}
      </p>
    </div>
  );
}
