import { DynamicModule, Module } from '@nestjs/common';
import { WebhookDeliveryService } from './webhook-delivery.service.js';
import { WebhooksController } from './webhooks.controller.js';
import { WebhooksService } from './webhooks.service.js';

export interface WebhooksModuleOptions {
  /** Serve the webhook routes (the server with the API). */
  http: boolean;
  /** Send the outbox from this process (the server, not the CLI). */
  deliver: boolean;
}

/** Webhook endpoints, the delivery outbox other modules write to, and the loop that sends it. */
@Module({})
export class WebhooksModule {
  static forRoot(options: WebhooksModuleOptions): DynamicModule {
    return {
      module: WebhooksModule,
      global: true,
      controllers: options.http ? [WebhooksController] : [],
      providers: [WebhooksService, ...(options.deliver ? [WebhookDeliveryService] : [])],
      exports: [WebhooksService],
    };
  }
}
