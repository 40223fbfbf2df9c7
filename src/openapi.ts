import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject, type OperationObject } from '@nestjs/swagger';
import { PUBLIC_OPERATION_EXTENSION } from './auth/auth.decorators.js';
import { addProblemResponses } from './common/api-problems.js';
import { ProblemDocument } from './common/problem.view.js';
import { VERSION } from './metrics/version.js';

/** The OpenAPI 3 document of the API, from the controllers and the DTO metadata the build's swagger plugin wrote. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Auto Code Server')
    .setDescription(
      'Run autonomous coding agents headless. Every route needs `Authorization: Bearer <JWT>` unless it says otherwise; ' +
        'errors are application/problem+json with a stable `code`. Any request may also be refused before it reaches a route: ' +
        '400 `bad_request` (not valid HTTP, or a URL that does not decode), 404 `not_found` (no such route), 408 `request_timeout`, ' +
        '413 `payload_too_large`, 414 `uri_too_long`, 431 `headers_too_large` (request line and headers over 16 KiB), ' +
        '503 `shutting_down`. No string of a request may hold a control character but tab, LF and CR in multi-line text; ' +
        'JSON bodies nest at most 32 levels.',
    )
    .setVersion(VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .addSecurityRequirements('bearer')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
    extraModels: [ProblemDocument],
  });
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item) as (OperationObject & Record<string, unknown>)[]) {
      if (!operation || typeof operation !== 'object') continue;
      if (PUBLIC_OPERATION_EXTENSION in operation) {
        delete operation[PUBLIC_OPERATION_EXTENSION];
        operation.security = [];
      } else {
        // What the global guards answer on every protected route: no or a bad token, too many requests.
        addProblemResponses(operation.responses, ['unauthorized', 'rate_limited']);
      }
    }
  }
  return document;
}

/** Serves the document at /api/openapi.json and Swagger UI at /api/docs, both public. */
export function serveOpenApi(app: INestApplication): void {
  SwaggerModule.setup('api/docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'api/openapi.json', raw: ['json'] });
}
