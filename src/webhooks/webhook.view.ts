import { ApiProperty } from '@nestjs/swagger';

export const WEBHOOK_EVENT_TYPES = ['run.started', 'run.succeeded', 'run.failed', 'run.cancelled', 'run.timed_out', 'run.interrupted', 'run.pull_request_opened', 'run.approval_requested'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;

/** A webhook endpoint as its owner sees it; the secret is shown once, when it is created. */
export class WebhookEndpointView {
  id: string;
  url: string;
  /** The event types sent to it. */
  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, enumName: 'WebhookEventType', isArray: true })
  events: WebhookEventType[];
  createdAt: string;
  /** Since when its deliveries fail (none has succeeded since); null while they succeed. */
  failingSince: string | null;
  /** Set when it failed for 24 hours: nothing more is sent until a delivery is redelivered. */
  disabledAt: string | null;
  disabledReason: string | null;
}

/** The answer to `POST /api/v1/webhooks`: the endpoint and its signing secret, shown this once. */
export class CreatedWebhookEndpoint extends WebhookEndpointView {
  /** `whsec_…`: verifies the `webhook-signature` header (Standard Webhooks). */
  secret: string;
}

export class WebhookEndpointList {
  items: WebhookEndpointView[];
}

/** One event sent (or being sent) to one endpoint. Its id is the `webhook-id` header of every attempt. */
export class WebhookDeliveryView {
  id: string;
  endpointId: string;
  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, enumName: 'WebhookEventType' })
  eventType: WebhookEventType;
  @ApiProperty({ enum: DELIVERY_STATUSES, enumName: 'WebhookDeliveryStatus' })
  status: (typeof DELIVERY_STATUSES)[number];
  attempts: number;
  /** When it is tried next, while pending. */
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  /** The HTTP status the endpoint answered last; null when it did not answer. */
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export class WebhookDeliveryPage {
  items: WebhookDeliveryView[];
  nextCursor: string | null;
}
