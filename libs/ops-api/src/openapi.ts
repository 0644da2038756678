import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** Serves the OpenAPI document at /api/docs-json and an explorer at /api/docs. */
export function setupOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('IOC operations-centre API')
    .setDescription(
      'Devices, areas, latest values and history of the IoT readings the platform ingests; device provisioning (create, update, suspend, resume, retire, credentials, CSV/GeoJSON import and export) and the area tree. Live readings: socket.io namespace /live (emit "subscribe" with {domain|area|device}, receive "reading").',
    )
    .setVersion('1')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}
