/** The server's metrics (API.md "Metrics"); no label carries a user id, a run id or a path. */
export const METRICS = {
  runsSubmitted: 'autocode_runs_submitted_total',
  runsFinished: 'autocode_runs_finished_total',
  runDuration: 'autocode_run_duration_seconds',
  queueWait: 'autocode_run_queue_wait_seconds',
  runsActive: 'autocode_runs_active',
  runsQueued: 'autocode_runs_queued',
  quotaRejections: 'autocode_quota_rejections_total',
  webhookDeliveries: 'autocode_webhook_deliveries_total',
  webhookLatency: 'autocode_webhook_delivery_latency_seconds',
  httpRequests: 'autocode_http_requests_total',
  httpDuration: 'autocode_http_request_duration_seconds',
  uptime: 'autocode_uptime_seconds',
  buildInfo: 'autocode_build_info',
} as const;
