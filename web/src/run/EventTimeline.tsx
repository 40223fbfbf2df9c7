import type { RunEvent } from '@autocode/client';
import { describeEvent } from './describe-event';

/** Everything the run did besides printing: status changes, tool uses and their results, messages, approvals, the result. */
export function EventTimeline({ events }: { events: RunEvent[] }) {
  if (events.length === 0) return <p className="muted">No events yet.</p>;
  return (
    <ol className="timeline">
      {events.map((event) => (
        <li key={event.seq} className={`timeline-${event.type}`}>
          <time dateTime={event.ts}>{new Date(event.ts).toLocaleTimeString()}</time>
          <span className="badge">{event.type.replace('_', ' ')}</span>
          <span className="timeline-text">{describeEvent(event)}</span>
        </li>
      ))}
    </ol>
  );
}
