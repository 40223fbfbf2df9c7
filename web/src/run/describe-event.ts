import type { RunEvent } from '@autocode/client';

const clip = (text: string, length = 200): string => (text.length > length ? `${text.slice(0, length)}…` : text);

/** One line about an event for the timeline: what happened, in words, cut to a readable length. */
export function describeEvent(event: RunEvent): string {
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
    case 'user_message':
      return clip(String(data.prompt ?? ''));
    case 'approval_requested':
      return `Approval asked: ${String(data.tool)} ${clip(JSON.stringify(data.input ?? {}), 160)}`;
    case 'approval_decided': {
      const verb = data.decision === 'allow' ? 'Allowed' : 'Denied';
      const message = typeof data.message === 'string' && data.message !== '' ? `: ${clip(data.message)}` : '';
      return `${verb} by ${String(data.by)}${message}`;
    }
    default:
      return JSON.stringify(data).slice(0, 200);
  }
}
