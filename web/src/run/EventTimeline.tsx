import type { RunEvent } from '@autocode/client';

function summary(event: RunEvent): string {
  const data = event.data as Record<string, unknown>;
  switch (event.type) {
    case 'status':
      return `status ${String(data.status)}${data.reason ? ` (${String(data.reason)})` : ''}`;
    case 'tool_use':
      return `${String(data.name)} ${JSON.stringify(data.input ?? {}).slice(0, 200)}`;
    case 'tool_result':
      return `${data.name ? String(data.name) + ' ' : ''}${data.ok ? 'ok' : 'failed'}: ${String(data.output ?? '').slice(0, 200)}`;
    case 'result':
      return [data.summary, data.costUsd !== undefined ? `$${Number(data.costUsd).toFixed(4)}` : null, data.turns !== undefined ? `${String(data.turns)} turns` : null]
        .filter(Boolean)
        .join(' · ');
    case 'message':
      return String(data.text ?? '').slice(0, 200);
    default:
      return JSON.stringify(data).slice(0, 200);
  }
}

/** Everything the run did besides printing: status changes, tool uses and their results, messages, the result. */
export function EventTimeline({ events }: { events: RunEvent[] }) {
  if (events.length === 0) return <p className="muted">No events yet.</p>;
  return (
    <ol className="timeline">
      {events.map((event) => (
        <li key={event.seq} className={`timeline-${event.type}`}>
          <time dateTime={event.ts}>{new Date(event.ts).toLocaleTimeString()}</time>
          <span className="badge">{event.type.replace('_', ' ')}</span>
          <span className="timeline-text">{summary(event)}</span>
        </li>
      ))}
    </ol>
  );
}
