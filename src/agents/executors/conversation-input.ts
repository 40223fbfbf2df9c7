import type { SDKMessage, SDKUserMessage } from '@anthropic-ai/claude-agent-sdk';
import { randomUUID } from 'node:crypto';
import type { RunInbox } from './executor.js';

/**
 * The user's side of a Claude Code conversation as streaming input: the run's prompt, then each
 * message its inbox hands over while it runs. Claude Code echoes every user message it takes
 * (`--replay-user-messages`), whether it folds it into the turn under way or starts a turn for
 * it; the input ends, and with it the CLI, once a turn has ended with every message sent taken
 * and none waiting, as a run on one prompt ends after its turn.
 */
export class ConversationInput implements AsyncIterable<SDKUserMessage> {
  private readonly waiting: string[] = [];
  private readonly untaken = new Set<string>();
  private wake: (() => void) | null = null;
  private ended = false;

  constructor(
    private readonly prompt: string,
    private readonly inbox: RunInbox | null,
  ) {
    inbox?.listen((text) => this.push(text));
  }

  /** Queues a message for the agent; false once the input has ended. */
  push(text: string): boolean {
    if (this.ended) return false;
    this.waiting.push(text);
    this.wake?.();
    return true;
  }

  /** Follows the conversation: Claude Code's echo of a user message, and the end of a turn. */
  observe(message: SDKMessage): void {
    if (message.type === 'user' && 'isReplay' in message && message.isReplay) this.untaken.delete(message.uuid);
    else if (message.type === 'result') void this.turnEnded();
  }

  /** Ends the input now (the run is being stopped). */
  end(): void {
    this.ended = true;
    this.wake?.();
  }

  private async turnEnded(): Promise<void> {
    // A message sent through another node may be in the database only.
    await this.inbox?.collect().catch(() => undefined);
    if (this.waiting.length === 0 && this.untaken.size === 0) this.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SDKUserMessage> {
    yield this.message(this.prompt);
    for (;;) {
      while (this.waiting.length > 0) yield this.message(this.waiting.shift()!);
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  private message(text: string): SDKUserMessage {
    const uuid = randomUUID();
    this.untaken.add(uuid);
    return { type: 'user', message: { role: 'user', content: text }, parent_tool_use_id: null, uuid };
  }
}
