import { Module } from '@nestjs/common';
import { ConsoleController } from './console.controller';

/**
 * `/api/v1/console`: the operators' console's public settings. The console's static files and the
 * PMTiles basemap are served by the edge (setupConsoleFiles), before Nest's routes and rate limits.
 */
@Module({ controllers: [ConsoleController] })
export class ConsoleModule {}
