import { Controller, Get, HttpStatus, Inject, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { type ConsoleConfigBody, consoleConfigBody } from '@ioc/contracts';
import type { OpsApiSettings } from '../api-config';
import { Public } from '../common/auth.decorators';
import { ApiAnswers } from '../common/openapi-zod';
import { NoParameters } from '../common/zod-validation.pipe';
import { OPS_API_SETTINGS } from '../tokens';
import { consoleConfigBodyOf, DEFAULT_CONSOLE_SETTINGS } from './console-config';

/**
 * `GET /api/v1/console/config` (public): what the operators' console reads before anyone logs in —
 * its basemap, language and alert settings (IOC_CONSOLE_*). Nothing secret: a pmtiles basemap is
 * named by its URL, never its path on disk.
 */
@ApiTags('console')
@Controller('api/v1/console')
export class ConsoleController {
  private readonly body: ConsoleConfigBody;

  constructor(@Inject(OPS_API_SETTINGS) settings: OpsApiSettings) {
    this.body = consoleConfigBodyOf(settings.console ?? DEFAULT_CONSOLE_SETTINGS);
  }

  @Get('config')
  @Public()
  @ApiOperation({
    summary:
      "The operators' console's deployment settings: basemap (none, xyz tile URL or the API's own PMTiles file), default language, time zone, alert sound and browser notifications",
  })
  @ApiAnswers({ body: consoleConfigBody, errors: [HttpStatus.BAD_REQUEST] })
  config(@Query(NoParameters) _query: object): ConsoleConfigBody {
    return this.body;
  }
}
