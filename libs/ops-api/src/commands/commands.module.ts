import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { LiveModule } from '../live/live.module';
import { CommandsController } from './commands.controller';
import { CommandsService } from './commands.service';

/** Commands to devices: `POST/GET /api/v1/devices/{id}/commands`, `GET /api/v1/commands/{commandId}`. */
@Module({
  imports: [LiveModule, AuditModule],
  controllers: [CommandsController],
  providers: [CommandsService],
})
export class CommandsModule {}
