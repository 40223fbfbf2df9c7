export interface SseEvent {
  id: string | null;
  event: string | null;
  data: string;
}

/**
 * Reads an SSE stream until the server closes it (or `timeoutMs` passes),
 * returning the events; `onEvent` can stop early by returning true.
 */
export async function readSse(
  url: string,
  options: { token: string; lastEventId?: string; timeoutMs?: number; onEvent?: (event: SseEvent) => boolean | void },
): Promise<{ status: number; contentType: string | null; events: SseEvent[]; closedByServer: boolean }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 15_000);
  const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${options.token}` };
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  const events: SseEvent[] = [];
  let closedByServer = false;
  const response = await fetch(url, { headers, signal: controller.signal });
  try {
    if (!response.body || !(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      return { status: response.status, contentType: response.headers.get('content-type'), events, closedByServer };
    }
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = response.body.getReader();
    outer: for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        closedByServer = true;
        break;
      }
      buffer += decoder.decode(value, { stream: true });
      let boundary = buffer.indexOf('\n\n');
      while (boundary !== -1) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        boundary = buffer.indexOf('\n\n');
        const event: SseEvent = { id: null, event: null, data: '' };
        let hasData = false;
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) event.id = line.slice(4);
          else if (line.startsWith('event: ')) event.event = line.slice(7);
          else if (line.startsWith('data: ')) {
            event.data += line.slice(6);
            hasData = true;
          }
        }
        if (!hasData) continue;
        events.push(event);
        if (options.onEvent?.(event) === true) {
          controller.abort();
          break outer;
        }
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
  }
  return { status: response.status, contentType: response.headers.get('content-type'), events, closedByServer };
}
