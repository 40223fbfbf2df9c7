import type { ReferenceObject, SchemaObject } from '@nestjs/swagger';
import { EVENT_TYPES, type RunEventType } from './entities/run-event.entity.js';

const ref = (name: string): string => `#/components/schemas/${name}`;

/** The `data` of each event type, as the dispatcher and the executors' output parsers write it. */
const EVENT_DATA: Record<RunEventType, SchemaObject | ReferenceObject> = {
  status: {
    type: 'object',
    required: ['status'],
    properties: {
      status: { $ref: ref('RunStatus') },
      reason: { type: 'string', description: 'Why the run ended so, e.g. `cancel_requested`, `server_shutdown`, `node_restarted`', example: 'cancel_requested' },
    },
  },
  stdout: { type: 'object', required: ['line'], properties: { line: { type: 'string', description: 'One line the agent printed, without its line end' } } },
  stderr: { type: 'object', required: ['line'], properties: { line: { type: 'string', description: 'One line the agent printed on stderr' } } },
  message: { type: 'object', required: ['text'], properties: { text: { type: 'string', description: "The agent's prose" } } },
  tool_use: {
    type: 'object',
    required: ['name', 'input'],
    properties: {
      name: { type: 'string', description: 'The tool called', example: 'Bash' },
      input: { description: 'The arguments, as the agent gave them (any JSON value)' },
    },
  },
  tool_result: {
    type: 'object',
    required: ['ok', 'output'],
    properties: {
      name: { type: 'string', description: 'The tool, when the agent names it' },
      ok: { type: 'boolean', description: 'false when the tool reported an error' },
      output: { description: 'What the tool answered (any JSON value)' },
    },
  },
  result: { $ref: ref('RunResult') },
  user_message: {
    type: 'object',
    required: ['prompt'],
    properties: { prompt: { type: 'string', description: 'A message sent to the running agent (`POST /api/v1/runs/{id}/messages`), as it reached it' } },
  },
  approval_requested: {
    type: 'object',
    required: ['approvalId', 'tool', 'input'],
    properties: {
      approvalId: { type: 'string', format: 'uuid', description: 'Decide it with `POST /api/v1/runs/{id}/approvals/{approvalId}`' },
      tool: { type: 'string', description: 'The tool the agent wants to call', example: 'Bash' },
      input: { description: 'The arguments of the call (any JSON value)' },
    },
  },
  approval_decided: {
    type: 'object',
    required: ['approvalId', 'decision', 'by'],
    properties: {
      approvalId: { type: 'string', format: 'uuid' },
      decision: { type: 'string', enum: ['allow', 'deny'] },
      by: { type: 'string', description: 'The user who decided, or `timeout` when the profile\'s `onTimeout` applied', example: 'alice' },
      message: { type: 'string', description: 'What the decision told the model (a denial\'s reason)' },
    },
  },
};

/** The schema name of the event of one type: `RunStatusEvent`, `RunToolUseEvent`… */
function eventSchemaName(type: RunEventType): string {
  return `Run${type.replace(/(^|_)(\w)/g, (_match, _sep: string, letter: string) => letter.toUpperCase())}Event`;
}

/**
 * The run events as a union discriminated on `type`, one schema per type, so a client
 * generated from the document gets `data` typed by `type`. `RunEvent` is the union.
 */
export function runEventSchemas(): Record<string, SchemaObject> {
  const schemas: Record<string, SchemaObject> = {};
  for (const type of EVENT_TYPES) {
    schemas[eventSchemaName(type)] = {
      type: 'object',
      description: `A \`${type}\` event of a run`,
      required: ['seq', 'ts', 'type', 'data'],
      properties: {
        seq: { type: 'integer', minimum: 1, description: 'Starts at 1 for each run and has no gaps; the SSE `id`' },
        ts: { type: 'string', format: 'date-time' },
        type: { type: 'string', enum: [type], description: 'The SSE `event`' },
        data: EVENT_DATA[type],
      },
    };
  }
  schemas.RunEvent = {
    type: 'object',
    description: 'One event of a run; `type` says which, and the shape of `data`. In an SSE stream, `seq` is the frame\'s `id` and `type` its `event`.',
    oneOf: EVENT_TYPES.map((type) => ({ $ref: ref(eventSchemaName(type)) })),
    discriminator: { propertyName: 'type', mapping: Object.fromEntries(EVENT_TYPES.map((type) => [type, ref(eventSchemaName(type))])) },
    example: { seq: 3, ts: '2026-11-24T07:09:26.849Z', type: 'stdout', data: { line: 'working on: Say hello' } },
  };
  return schemas;
}
