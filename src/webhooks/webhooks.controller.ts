import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthUser } from '../auth/auth.decorators.js';
import { ApiProblems, BODY_PROBLEMS } from '../common/api-problems.js';
import { CreateWebhookDto, ListDeliveriesQuery, WebhookDeliveryParams, WebhookParams } from './dto/webhook.dto.js';
import type { CreatedWebhookEndpoint, WebhookDeliveryPage, WebhookDeliveryView, WebhookEndpointList } from './webhook.view.js';
import { WebhooksService } from './webhooks.service.js';

/** A user's webhook endpoints: run events POSTed to them, signed per Standard Webhooks. */
@ApiTags('Webhooks')
@Controller('api/v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  /**
   * Register a webhook endpoint
   *
   * @remarks Registers an http(s) URL of a public address for the caller's runs' events. The answer holds the signing `secret`, shown only here.
   */
  @Post()
  @ApiProblems(...BODY_PROBLEMS, 'webhook_url_not_allowed')
  create(@CurrentUser() user: AuthUser, @Body() body: CreateWebhookDto): Promise<CreatedWebhookEndpoint> {
    return this.webhooks.create(user.id, body);
  }

  /**
   * List own webhook endpoints
   *
   * @remarks The caller's endpoints, without their secrets.
   */
  @Get()
  list(@CurrentUser() user: AuthUser): Promise<WebhookEndpointList> {
    return this.webhooks.list(user.id);
  }

  /**
   * Remove a webhook endpoint
   *
   * @remarks Removes an endpoint and its deliveries.
   */
  @Delete(':id')
  @HttpCode(204)
  @ApiProblems('validation_failed', 'webhook_not_found')
  async remove(@CurrentUser() user: AuthUser, @Param() params: WebhookParams): Promise<void> {
    await this.webhooks.remove(user.id, params.id);
  }

  /**
   * List an endpoint's deliveries
   *
   * @remarks Deliveries of one endpoint, newest first, with their attempts and last answer.
   */
  @Get(':id/deliveries')
  @ApiProblems('validation_failed', 'webhook_not_found')
  deliveries(@CurrentUser() user: AuthUser, @Param() params: WebhookParams, @Query() query: ListDeliveriesQuery): Promise<WebhookDeliveryPage> {
    return this.webhooks.deliveries(user.id, params.id, query);
  }

  /**
   * Redeliver a delivery
   *
   * @remarks Sends a delivery again now, and enables its endpoint if it was disabled.
   */
  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  @ApiProblems('validation_failed', 'webhook_not_found', 'webhook_delivery_not_found')
  redeliver(@CurrentUser() user: AuthUser, @Param() params: WebhookDeliveryParams): Promise<WebhookDeliveryView> {
    return this.webhooks.redeliver(user.id, params.id, params.deliveryId);
  }
}
