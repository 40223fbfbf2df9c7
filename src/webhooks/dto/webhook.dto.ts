import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../webhook.view.js';

/** Body of `POST /api/v1/webhooks`. The address is checked by the service. */
export class CreateWebhookDto {
  /** Where events are POSTed: an http or https URL of a public address. */
  @IsString() @MaxLength(2048)
  url: string;

  /** The event types to send; every type when left out. */
  @IsOptional() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(WEBHOOK_EVENT_TYPES.length) @IsIn(WEBHOOK_EVENT_TYPES, { each: true })
  events?: WebhookEventType[];
}

export class WebhookParams {
  @IsUUID('all')
  id: string;
}

export class WebhookDeliveryParams extends WebhookParams {
  @IsUUID('all')
  deliveryId: string;
}

export class ListDeliveriesQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  limit?: number;

  @IsOptional() @IsString() @MaxLength(512)
  cursor?: string;
}
