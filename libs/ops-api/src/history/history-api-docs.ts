import { applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiQuery } from '@nestjs/swagger';
import { AGGREGATIONS, RESOLUTIONS } from '@ioc/timeseries';
import { TIME_ZONE_NAMES } from './time-zones';

/** OpenAPI description of the window parameters every history endpoint shares. */
export function ApiHistoryWindowQueries(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiQuery({
      name: 'from',
      required: false,
      description: 'ISO-8601 with offset, or epoch ms; default to − 24 h',
    }),
    ApiQuery({ name: 'to', required: false, description: 'ISO-8601 with offset, or epoch ms; default now' }),
    ApiQuery({ name: 'every', required: false, description: 'window: 30s, 5m, 1h, 1d …' }),
    ApiQuery({ name: 'fn', required: false, enum: AGGREGATIONS }),
    ApiQuery({ name: 'tz', required: false, enum: TIME_ZONE_NAMES }),
    ApiQuery({ name: 'resolution', required: false, enum: ['auto', ...RESOLUTIONS] }),
    ApiQuery({ name: 'format', required: false, enum: ['json', 'csv'] }),
    ApiBadRequestResponse({
      description: 'A parameter is invalid or the answer would exceed the point limit',
    }),
  );
}
