import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CurrentUser, type AuthUser } from '../auth/auth.decorators.js';
import { ApiProblems, BODY_PROBLEMS } from '../common/api-problems.js';
import { CreateWebhookDto, ListDeliveriesQuery, WebhookDeliveryParams, WebhookParams } from './dto/webhook.dto.js';
import type { CreatedWebhookEndpoint, WebhookDeliveryPage, WebhookDeliveryView, WebhookEndpointList } from './webhook.view.js';
import { WebhooksService } from './webhooks.service.js';

/** A user's webhook endpoints: run events POSTed to them, signed per Standard Webhooks. */
@Controller('api/v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiProblems(...BODY_PROBLEMS, 'webhook_url_not_allowed')
  create(@CurrentUser() user: AuthUser, @Body() body: CreateWebhookDto): Promise<CreatedWebhookEndpoint> {
    return this.webhooks.create(user.id, body);
  }

  @Get()
  list(@CurrentUser() user: AuthUser): Promise<WebhookEndpointList> {
    return this.webhooks.list(user.id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiProblems('validation_failed', 'webhook_not_found')
  async remove(@CurrentUser() user: AuthUser, @Param() params: WebhookParams): Promise<void> {
    await this.webhooks.remove(user.id, params.id);
  }

  @Get(':id/deliveries')
  @ApiProblems('validation_failed', 'webhook_not_found')
  deliveries(@CurrentUser() user: AuthUser, @Param() params: WebhookParams, @Query() query: ListDeliveriesQuery): Promise<WebhookDeliveryPage> {
    return this.webhooks.deliveries(user.id, params.id, query);
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  @ApiProblems('validation_failed', 'webhook_not_found', 'webhook_delivery_not_found')
  redeliver(@CurrentUser() user: AuthUser, @Param() params: WebhookDeliveryParams): Promise<WebhookDeliveryView> {
    return this.webhooks.redeliver(user.id, params.id, params.deliveryId);
  }
}
